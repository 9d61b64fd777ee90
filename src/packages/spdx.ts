import parseSpdx from 'spdx-expression-parse';

/**
 * SPDX expression validation. spdx-expression-parse knows the grammar and the official
 * license and exception lists; LicenseRef-* ids are allowed as SPDX allows them.
 * Returns a message naming what is wrong, or undefined when the expression is valid.
 */
export function invalidSpdxIds(expression: string): string | undefined {
  try {
    parseSpdx(expression);
    return undefined;
  } catch (error) {
    return `"${expression}" is not a valid SPDX license expression (${(error as Error).message}); use ids from https://spdx.org/licenses/`;
  }
}

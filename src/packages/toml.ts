import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { KilnError, type ErrorCode } from '../errors.js';

/**
 * Parses a TOML document (a recipe, a kiln.toml) and validates it with its zod schema. A
 * syntax error names its line and column; schema problems are listed, each with its path.
 */
export function parseTomlDocument<T extends z.ZodType>(schema: T, text: string, file: string, what: { code: ErrorCode; noun: string; hint: string }): z.infer<T> {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : '';
    throw new KilnError(what.code, `${file} is not valid TOML${where}`, { cause: error, hint: 'fix the syntax; see https://toml.io' });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new KilnError(what.code, `${file} is not a valid ${what.noun}`, {
      details: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`),
      hint: what.hint,
    });
  }
  return parsed.data;
}

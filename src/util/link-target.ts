import { posix } from 'node:path';

/**
 * Where a relative symlink target leads, walked the way the kernel walks it: from the link's
 * directory, one component at a time. Both archive checkers (source tarballs, Debian packages)
 * use it. `links` holds the tree's symlinks (root-relative paths): a '..' taken after passing
 * through one of them goes wherever that link points, which text normalisation cannot see, so
 * such a target counts as leaving. Returns how the target leaves the tree, or undefined.
 */
export function linkTargetEscape(linkPath: string, target: string, links: ReadonlySet<string>): 'outside' | 'through-link' | undefined {
  const dir = posix.dirname(linkPath);
  const at = dir === '.' || dir === '' ? [] : dir.split('/').filter((part) => part !== '' && part !== '.');
  let throughLink = false;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (throughLink) return 'through-link';
      if (at.length === 0) return 'outside';
      at.pop();
    } else {
      at.push(part);
      if (links.has(at.join('/'))) throughLink = true;
    }
  }
  return undefined;
}

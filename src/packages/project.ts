import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import semver from 'semver';
import { stringify as stringifyToml } from 'smol-toml';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { writeFileAtomically } from '../util/fs.js';
import { lockProject, type Lockfile } from './lock.js';
import { loadProject, PROJECT_FILE, parseManifest } from './manifest.js';
import { PACKAGE_NAME } from './recipe.js';
import { resolveDependencies } from './resolve/index.js';
import { projectSources, SourceSet } from './sources/index.js';
import { exists } from '../util/fs.js';

/** Project-level operations behind `kiln init` and `kiln add`. */

export interface InitResult {
  dir: string;
  name: string;
  files: string[];
}

/** Writes kiln.toml and a hello-world main.c whose [build] compiles it with the kiln toolchain. */
export async function initProject(dir: string, options: { name?: string } = {}): Promise<InitResult> {
  const root = resolve(dir);
  const name = options.name ?? basename(root).toLowerCase().replace(/[^a-z0-9+._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  if (!PACKAGE_NAME.test(name)) {
    throw new KilnError(ErrorCodes.USAGE, `"${name}" is not a valid package name`, { hint: 'use --name with lowercase letters, digits and + . _ -' });
  }
  const files = [join(root, PROJECT_FILE), join(root, 'main.c')];
  for (const file of files) {
    if (await exists(file)) {
      throw new KilnError(ErrorCodes.OUTPUT_EXISTS, `${file} already exists`, { hint: 'kiln init never overwrites files; pick an empty directory' });
    }
  }
  await mkdir(root, { recursive: true });
  const manifest = `# kiln project manifest: a recipe for this directory (see \`kiln recipe schema\`)
[package]
name = "${name}"
version = "0.1.0"
license = "MIT" # the SPDX id of your project's license

[dependencies]

[build]
steps = [
  ["mkdir", "-p", "$KILN_DESTDIR/usr/bin"],
  ["x86_64-kiln-linux-musl-gcc", "-O2", "-o", "$KILN_DESTDIR/usr/bin/${name}", "main.c"],
]

[install]
binaries = ["/usr/bin/${name}"]

[runtime]
args = []
`;
  parseManifest(manifest, files[0]!);
  const program = `#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from ${name}%s%s\\n", argc > 1 ? ", " : "", argc > 1 ? argv[1] : "");
    return 0;
}
`;
  await writeFile(files[0]!, manifest, { flag: 'wx' });
  await writeFile(files[1]!, program, { flag: 'wx' });
  return { dir: root, name, files };
}

/** "name" or "name@range". */
export function parsePackageSpec(spec: string): { name: string; range?: string } {
  const at = spec.indexOf('@');
  const name = at < 0 ? spec : spec.slice(0, at);
  const range = at < 0 ? undefined : spec.slice(at + 1);
  if (!PACKAGE_NAME.test(name)) throw new KilnError(ErrorCodes.USAGE, `"${name}" is not a package name`, { hint: 'write NAME or NAME@RANGE, e.g. sqlite@^3.52' });
  if (range !== undefined && semver.validRange(range) === null) throw new KilnError(ErrorCodes.USAGE, `"${range}" is not a semver range`, { hint: 'e.g. ^3.52, >=1.2 <2, or 1.2.3' });
  return range === undefined ? { name } : { name, range };
}

export interface AddResult {
  name: string;
  range: string;
  section: 'dependencies' | 'build-dependencies';
  lock: Lockfile;
}

/**
 * Adds (or changes) one dependency in kiln.toml — a line edit in its section so the user's
 * comments and layout stay — then locks. If locking fails, kiln.toml is put back as it was.
 */
export async function addDependency(ctx: Context, dir: string, spec: string, options: { build?: boolean } = {}): Promise<AddResult> {
  const project = await loadProject(dir);
  const { name, range: asked } = parsePackageSpec(spec);
  const set = new SourceSet(projectSources(ctx, project.dir, project.manifest.indexes));
  const versions = await set.versions(name);
  if (versions.length === 0) {
    // The resolver's check names close matches.
    await resolveDependencies(set, { name: project.manifest.package.name, version: project.manifest.package.version, dependencies: { [name]: '*' }, buildDependencies: {} });
  }
  const newest = versions.filter((v) => semver.prerelease(v) === null).pop() ?? versions[versions.length - 1]!;
  const range = asked ?? `^${newest}`;
  const section = options.build ? 'build-dependencies' : 'dependencies';
  let text = setTomlKey(project.text, section, name, range);
  const check = (t: string) => {
    try {
      return parseManifest(t, project.file)[section][name] === range;
    } catch {
      return false;
    }
  };
  if (!check(text)) {
    // An unusual layout (inline tables, dotted keys): rewrite the document instead.
    const data = { ...project.manifest, [section]: { ...project.manifest[section], [name]: range } };
    text = stringifyToml(data);
  }
  parseManifest(text, project.file);
  await writeFileAtomically(project.file, text);
  try {
    const lock = await lockProject(ctx, project.dir);
    return { name, range, section, lock };
  } catch (error) {
    await writeFileAtomically(project.file, project.text);
    throw error;
  }
}

/** Sets `key = "value"` inside [section] of TOML text, editing only that line (or adding one). */
export function setTomlKey(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  const bareKey = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  const entry = `${bareKey} = ${JSON.stringify(value)}`;
  const header = lines.findIndex((l) => l.trim().replace(/\s+/g, '') === `[${section}]` || l.trim().startsWith(`[${section}]`));
  if (header < 0) {
    const trimmed = text.replace(/\s*$/, '');
    return `${trimmed}${trimmed === '' ? '' : '\n\n'}[${section}]\n${entry}\n`;
  }
  let end = lines.length;
  for (let i = header + 1; i < lines.length; i++) {
    if (/^\s*\[/.test(lines[i]!)) {
      end = i;
      break;
    }
  }
  const keyPattern = new RegExp(`^\\s*(${escape(key)}|"${escape(key)}"|'${escape(key)}')\\s*=`);
  for (let i = header + 1; i < end; i++) {
    if (keyPattern.test(lines[i]!)) {
      const comment = /\s#[^"']*$/.exec(lines[i]!)?.[0] ?? '';
      lines[i] = entry + comment;
      return lines.join('\n');
    }
  }
  let last = header;
  for (let i = header + 1; i < end; i++) if (lines[i]!.trim() !== '') last = i;
  lines.splice(last + 1, 0, entry);
  return lines.join('\n');
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

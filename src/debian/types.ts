/**
 * The exact set of Debian binary packages an input needs: the requested package and its
 * Depends/Pre-Depends closure as apt resolved it, each with the .deb's sha256 from apt's
 * (signed) index. Sorted by package name and JSON-serialisable: kiln.lock stores it as is.
 */
export interface DebianLockEntry {
  package: string;
  version: string;
  architecture: string;
  /** sha256 of the .deb, as the archive's index states it. */
  sha256: string;
  size: number;
  /** Path of the .deb in the archive (pool/main/...): informative, downloads go through apt. */
  filename: string;
  /** The source package it was built from (OSV's Debian ecosystem names source packages). */
  source: { package: string; version: string };
}

export interface DebianLock {
  package: string;
  version: string;
  architecture: string;
  closure: DebianLockEntry[];
}

export interface DebianSpec {
  package: string;
  version?: string;
  /** More packages (apt's candidates) unpacked beside it, resolved into the same closure: programs an app runs. */
  extraPackages?: string[];
}

export interface DebianImageSpec extends DebianSpec {
  /** The program to run, a path inside the package (e.g. /usr/bin/redis-server). */
  binary?: string;
  /** Other programs the image carries with their libraries, paths inside the packages (src/bake/programs.ts). */
  programs?: string[];
  /** Data files or directories taken from the unpacked packages, kept at their paths. */
  files?: string[];
  /** Extra host files (recipe-relative data such as a config) copied in at guest paths. */
  data?: { hostPath: string; guestPath: string }[];
  /** A lock already made (kiln.lock): used instead of asking apt again. */
  lock?: DebianLock;
}

import { z } from 'zod';

/**
 * What an image is made of, one record per component, for licenses, audits and SBOMs.
 * Bake fills it in (src/supply computes kernel, shim, app and library records; package flows
 * pass kiln and Debian package records in BakeRequest.components). Guest paths tie each
 * component to the files of image.json.
 */
export const ComponentSchema = z.object({
  /** Stable id inside one image, e.g. "debian:libc6", "kiln:sqlite", "kernel", "shim", "app". */
  id: z.string(),
  kind: z.enum(['kernel', 'shim', 'app', 'kiln-package', 'debian-package', 'data']),
  name: z.string(),
  version: z.string().optional(),
  /** SPDX expression; "NOASSERTION" when nothing reliable is known. */
  license: z.string().optional(),
  /** For Debian packages (the kernel, libraries, packages used as inputs). OSV's Debian ecosystem names source packages. */
  debian: z
    .object({
      // Debian's name rules: the bundle writer uses these as file names.
      package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
      version: z.string(),
      architecture: z.string().optional(),
      source: z.object({ package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/), version: z.string() }),
    })
    .optional(),
  /** Guest paths of the image's files that belong to this component. */
  files: z.array(z.string()),
  /** ids of the components this one needs at run time. */
  dependsOn: z.array(z.string()).default([]),
  /** sha256 of the component's main file or archive, when it has one. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});

export type Component = z.infer<typeof ComponentSchema>;
export type ComponentInput = z.input<typeof ComponentSchema>;

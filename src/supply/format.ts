/**
 * The version of what src/supply puts in an image: the inventory (components, their licenses,
 * edges) and the SBOM written beside image.json. planBake records it in the manifest
 * (kiln.supply), so it is part of the image cache key: bump it whenever the inventory or SBOM
 * code would give a different result for the same inputs (a new license mapping, a new field,
 * another SBOM layout), or cached images keep serving the old inventory and SBOM until
 * KILN_VERSION changes.
 */
export const SUPPLY_FORMAT = 1;

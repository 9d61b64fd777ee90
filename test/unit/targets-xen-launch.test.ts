import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import type { LoadedImage } from '../../src/image/manifest.js';
import { xenDefaultConfig } from '../../src/targets/xen/image.js';
import { runWithXl } from '../../src/launch/engines/xl.js';
import { xenTarget } from '../../src/targets/xen/driver.js';

/**
 * The dom0 path of `kiln launch IMAGE.xen`, against a stand-in `xl` (there is no Xen here): a
 * script that logs its arguments and plays a domain's console. It checks what kiln asks of xl
 * (create -c with the instance's config, destroy at the end or on timeout) and that the exit
 * status comes from the shim's lines on the console, not from xl's own status.
 */
const image = {
  dir: '/images/hello.xen',
  kernelPath: '/images/hello.xen/kernel',
  initrdPath: '/images/hello.xen/initramfs.cpio',
  manifest: { app: { guestPath: '/app/hello' }, kernel: { file: 'kernel' }, cmdline: xenTarget.cmdline.join(' '), memory: { minimumMiB: 77, defaultMiB: 144 } },
} as unknown as LoadedImage;

async function fakeXl(console: string): Promise<{ dir: string; log: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-fake-xl-'));
  const log = join(dir, 'xl.log');
  // create: log the config, play the console, then stay until destroy kills it (if the console says so).
  const script = `#!/bin/sh
echo "xl $*" >> ${log}
case "$1" in
  create) cat "$3" >> ${log}; echo $$ > ${dir}/pid; printf '${console}'; case '${console}' in *KILN-EXIT*) exit 0;; esac; exec sleep 30 ;;
  destroy) [ -f ${dir}/pid ] && kill "$(cat ${dir}/pid)" 2>/dev/null; exit 0 ;;
esac
`;
  await writeFile(join(dir, 'xl'), script);
  await chmod(join(dir, 'xl'), 0o755);
  return { dir, log };
}

test('on a dom0, kiln runs xl create -c with the instance config and takes the exit status from hvc0', async () => {
  const { dir, log } = await fakeXl('booting\\nKILN-START\\nhello\\nKILN-EXIT code=7\\n');
  try {
    const ctx = createContext({ env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    const result = await runWithXl(ctx, { image, config: xenDefaultConfig(), ramdiskPath: join(dir, 'initrd.cpio'), runDir: dir, memoryMiB: 96, cpus: 1, stopTimeoutSeconds: 5 });
    assert.deepEqual(result.report, { kind: 'exited', code: 7 });
    assert.match(result.consoleTail, /hello/);
    const calls = await readFile(log, 'utf8');
    assert.match(calls, new RegExp(`^xl create -c ${join(dir, 'xl.cfg')}$`, 'm'));
    assert.match(calls, /^kernel = "\/images\/hello.xen\/kernel"$/m);
    assert.match(calls, /^memory = 96$/m);
    assert.match(calls, new RegExp(`^xl destroy kiln-hello-${process.pid}$`, 'm'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a domain that outlives --timeout is destroyed and reported as a timeout', async () => {
  const { dir, log } = await fakeXl('booting\\n');
  try {
    const ctx = createContext({ env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    const result = await runWithXl(ctx, { image, config: xenDefaultConfig(), ramdiskPath: join(dir, 'initrd.cpio'), runDir: dir, memoryMiB: 96, cpus: 1, stopTimeoutSeconds: 5, timeoutSeconds: 1 });
    assert.deepEqual(result.report, { kind: 'timeout', seconds: 1 });
    assert.match(await readFile(log, 'utf8'), /^xl destroy /m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

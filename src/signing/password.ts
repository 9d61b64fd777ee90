import { KilnError, ErrorCodes } from '../errors.js';

/**
 * The private key's password, as cosign takes it: `COSIGN_PASSWORD` when set (even empty, so
 * scripts and CI can sign), otherwise typed at a prompt on the terminal without echo. With no
 * terminal and no COSIGN_PASSWORD the command fails rather than hang.
 */
export async function keyPassword(env: NodeJS.ProcessEnv, confirm: boolean): Promise<string> {
  if (env.COSIGN_PASSWORD !== undefined) return env.COSIGN_PASSWORD;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new KilnError(ErrorCodes.USAGE, 'the key password is needed and there is no terminal to ask on', { hint: 'set COSIGN_PASSWORD (it may be empty)' });
  }
  const first = await prompt('Enter password for private key: ');
  if (confirm) {
    const second = await prompt('Enter password for private key again: ');
    if (first !== second) throw new KilnError(ErrorCodes.USAGE, 'the two passwords differ');
  }
  return first;
}

function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new KilnError(ErrorCodes.INTERRUPTED, 'interrupted at the password prompt'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

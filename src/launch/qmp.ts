import { createConnection, type Socket } from 'node:net';

/**
 * A minimal QMP client: connect to QEMU's control socket, leave capabilities negotiation, send
 * commands and wait for their replies. Enough for powerdown/quit/status; events are ignored.
 */
export class QmpClient {
  private buffer = '';
  private waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  private greeted!: Promise<void>;

  private constructor(private readonly socket: Socket) {}

  static async connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    // QEMU creates the socket a moment after it starts; retry until it is there.
    for (;;) {
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socket);
        client.listen();
        await client.greeted;
        await client.execute('qmp_capabilities');
        return client;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private listen(): void {
    let greet!: () => void;
    let failGreeting!: (error: Error) => void;
    this.greeted = new Promise((resolve, reject) => {
      greet = resolve;
      failGreeting = reject;
    });
    let greetedYet = false;
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        if ('QMP' in message && !greetedYet) {
          greetedYet = true;
          greet();
        } else if ('return' in message) {
          this.waiting.shift()?.resolve(message.return);
        } else if ('error' in message) {
          const error = message.error as { desc?: string };
          this.waiting.shift()?.reject(new Error(error.desc ?? 'QMP error'));
        }
      }
    });
    const fail = (error: Error) => {
      failGreeting(error);
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('QMP connection closed')));
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

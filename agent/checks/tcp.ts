import net from 'node:net';
import type { CheckResult } from './types';

export interface TcpCheckOptions {
  name: string;
  host: string;
  port: number;
  timeoutMs: number;
}

/** Opens a TCP connection (and closes it): ok when it connects within the timeout, fail otherwise. */
export function runTcpCheck(options: TcpCheckOptions): Promise<CheckResult> {
  const started = performance.now();
  const target = `${options.host}:${options.port}`;
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.host, port: options.port });
    const done = (status: 'ok' | 'fail', detail: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ name: options.name, status, detail, durationMs: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(
      () => done('fail', `no connection to ${target} within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    socket.once('connect', () =>
      done('ok', `connected to ${target} in ${Math.round(performance.now() - started)} ms`),
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done('fail', `cannot connect to ${target}: ${error.code ?? error.message}`),
    );
  });
}

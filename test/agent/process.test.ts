import { BoundedOutput, runProcess } from '../../agent/process';

describe('BoundedOutput', () => {
  it('keeps everything up to its bound', () => {
    const out = new BoundedOutput(16);
    out.push(Buffer.from('hello '));
    out.push(Buffer.from('world'));
    expect(out.toString()).toBe('hello world');
    expect(out.truncated).toBe(false);
  });

  it('beyond it, keeps the first and the last half and says how much was left out', () => {
    const out = new BoundedOutput(8);
    for (const chunk of ['abc', 'defgh', 'ijklmn', 'opqrstuvwxyz']) out.push(Buffer.from(chunk));
    expect(out.toString()).toBe('abcd\n…[18 bytes left out]…\nwxyz');
    expect(out.truncated).toBe(true);
  });
});

describe('runProcess', () => {
  it('returns the exit code and the output of a program run without a shell', async () => {
    const result = await runProcess({
      argv: ['node', '-e', 'console.log(process.argv[1]); process.exit(3)', 'a b;c'],
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({ exitCode: 3, stdout: 'a b;c\n', timedOut: false, aborted: false });
  });

  it('does not wait for a grandchild that keeps the output open after the program exited', async () => {
    const result = await runProcess({ argv: ['sh', '-c', 'setsid sleep 5 & echo done'], timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    expect(result.durationMs).toBeLessThan(4000);
  });
});

import { runCommandCheck } from '../../../agent/checks/command';

describe('command checks', () => {
  const run = (script: string, timeoutMs = 5000) =>
    runCommandCheck({ name: 'database', command: ['sh', '-c', script], timeoutMs });

  it('exit 0 is ok, exit 1 is warn, any other exit is fail; the first line of output is the detail', async () => {
    expect(await run('echo "mysqld is alive"; echo second line')).toMatchObject({
      name: 'database',
      status: 'ok',
      detail: 'mysqld is alive',
    });
    expect(await run('echo "replication lag 40 s"; exit 1')).toMatchObject({
      status: 'warn',
      detail: 'replication lag 40 s',
    });
    expect(await run('echo "connection refused" >&2; exit 2')).toMatchObject({
      status: 'fail',
      detail: 'connection refused',
    });
    expect(await run('exit 3')).toMatchObject({ status: 'fail', detail: 'exit 3' });
  });

  it('fails a command that runs past its timeout, and one that cannot start', async () => {
    const slow = await run('echo started; sleep 5', 300);
    expect(slow).toMatchObject({ status: 'fail', detail: 'timed out after 300 ms: started' });
    expect(slow.durationMs).toBeLessThan(3000);
    expect(
      await runCommandCheck({ name: 'cmha', command: ['/nonexistent/cmha', 'status'], timeoutMs: 1000 }),
    ).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^could not start: spawn \/nonexistent\/cmha ENOENT/),
    });
  });

  it('passes its environment to the command', async () => {
    const result = await runCommandCheck({
      name: 'env',
      command: ['sh', '-c', 'echo "$PEER"'],
      env: { PEER: 'head-b' },
      timeoutMs: 5000,
    });
    expect(result.detail).toBe('head-b');
  });
});

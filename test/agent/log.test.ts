import { errorMessage, Logger } from '../../agent/log';

describe('Logger', () => {
  const capture = (level: 'debug' | 'info' = 'info') => {
    const lines: string[] = [];
    return { lines, log: new Logger(level, { cluster: 'bcm-head' }, (line) => lines.push(line)) };
  };

  it('writes one JSON object per line with time, level, message and fields', () => {
    const { lines, log } = capture();
    log.child({ node: 'head-a' }).warn('lease lapsed: self-fencing', { epoch: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: 'warn',
      msg: 'lease lapsed: self-fencing',
      cluster: 'bcm-head',
      node: 'head-a',
      epoch: 3,
    });
  });

  it('drops records below its level', () => {
    const { lines, log } = capture('info');
    log.debug('heartbeat');
    log.error('broke');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['broke']);
  });

  it('never prints what looks like a secret, a buffer or a stack', () => {
    const { lines, log } = capture();
    log.info('oops', {
      key: 'c2VjcmV0',
      signature: 'abc',
      nested: { Token: 't' },
      raw: Buffer.from('x'),
      error: new Error('bad'),
    });
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      key: '[redacted]',
      signature: '[redacted]',
      nested: { Token: '[redacted]' },
      raw: '[buffer]',
      error: 'bad',
    });
  });

  it('errorMessage gives a message for anything thrown', () => {
    expect(errorMessage(new Error('x'))).toBe('x');
    expect(errorMessage('y')).toBe('y');
    expect(errorMessage({ z: 1 })).toBe('{"z":1}');
  });
});

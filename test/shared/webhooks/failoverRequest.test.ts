import { FAILOVER_WEBHOOK_REASON_MAX_CHARS } from '../../../shared/contracts/failoverWebhook';
import { checkFailoverTarget, parseFailoverRequest } from '../../../shared/webhooks/failoverRequest';

describe('parseFailoverRequest', () => {
  it('reads { clusterId, reason, targetNodeId? }', () => {
    expect(parseFailoverRequest('{"clusterId":"hpc-1","reason":"rack on fire"}')).toEqual({
      ok: true,
      request: { clusterId: 'hpc-1', reason: 'rack on fire' },
    });
    expect(parseFailoverRequest('{"clusterId":"hpc-1","reason":"r","targetNodeId":"head-b"}')).toMatchObject({
      ok: true,
      request: { targetNodeId: 'head-b' },
    });
  });

  it('refuses what is not JSON, duplicate keys and out-of-range numbers as InvalidJson (400)', () => {
    expect(parseFailoverRequest('{"clusterId": ')).toMatchObject({
      ok: false,
      kind: 'invalid',
      code: 'InvalidJson',
    });
    expect(parseFailoverRequest('{"clusterId":"a","clusterId":"b","reason":"r"}')).toMatchObject({
      ok: false,
      code: 'InvalidJson',
      details: { path: '$.clusterId' },
    });
    expect(parseFailoverRequest('{"clusterId":"a","reason":"r","x":1e400}')).toMatchObject({
      ok: false,
      code: 'InvalidJson',
    });
  });

  it('refuses the wrong shape as InvalidRequest (422), naming each problem', () => {
    const cases: [string, string][] = [
      ['[]', '(body)'],
      ['{"reason":"r"}', 'clusterId'],
      ['{"clusterId":"Not_An_Id","reason":"r"}', 'clusterId'],
      ['{"clusterId":"a"}', 'reason'],
      ['{"clusterId":"a","reason":"   "}', 'reason'],
      ['{"clusterId":"a","reason":""}', 'reason'],
      [
        JSON.stringify({ clusterId: 'a', reason: 'x'.repeat(FAILOVER_WEBHOOK_REASON_MAX_CHARS + 1) }),
        'reason',
      ],
      ['{"clusterId":"a","reason":"r","targetNodeId":"../etc"}', 'targetNodeId'],
      ['{"clusterId":"a","reason":"r","force":true}', '(body)'],
    ];
    for (const [body, path] of cases) {
      const parsed = parseFailoverRequest(body);
      expect(parsed).toMatchObject({ ok: false, kind: 'unprocessable', code: 'InvalidRequest' });
      if (parsed.ok) continue;
      expect(parsed.details?.problems).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    }
    // Exactly the bound is accepted.
    expect(
      parseFailoverRequest(
        JSON.stringify({ clusterId: 'a', reason: 'x'.repeat(FAILOVER_WEBHOOK_REASON_MAX_CHARS) }),
      ).ok,
    ).toBe(true);
  });
});

describe('checkFailoverTarget', () => {
  it('accepts no target or a node of the cluster, refuses another node as TargetNotInCluster (422)', () => {
    const nodes = ['head-a', 'head-b'];
    expect(checkFailoverTarget({ clusterId: 'c', reason: 'r' }, nodes)).toEqual({ ok: true });
    expect(checkFailoverTarget({ clusterId: 'c', reason: 'r', targetNodeId: 'head-b' }, nodes)).toEqual({
      ok: true,
    });
    expect(checkFailoverTarget({ clusterId: 'c', reason: 'r', targetNodeId: 'head-z' }, nodes)).toMatchObject(
      {
        ok: false,
        kind: 'unprocessable',
        code: 'TargetNotInCluster',
        details: { targetNodeId: 'head-z', nodeIds: nodes },
      },
    );
  });
});

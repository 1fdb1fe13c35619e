import type { AgentStatus } from '../../agent/agent';
import { initialState, type AgentState } from '../../agent/state';
import { renderStatus } from '../../agent/status';

const now = Date.parse('2026-11-22T12:00:10.000Z');

const state: AgentState = {
  ...initialState('bcm-head', 'head-a'),
  seqReserved: 512,
  highestEpoch: 3,
  role: 'active',
  roleEpoch: 3,
  commands: [{ id: 'promote-3', type: 'promote', epoch: 3, status: 'ok', at: '2026-11-22T12:00:00.000Z' }],
  reports: {
    promote: {
      operation: 'promote',
      operationId: 'promote-3',
      epoch: 3,
      status: 'ok',
      detail: 'promote-3: 1 step ok in 812 ms',
      at: '2026-11-22T12:00:01.000Z',
    },
  },
};

const status: AgentStatus = {
  pid: 4242,
  clusterId: 'bcm-head',
  nodeId: 'head-a',
  startedAt: '2026-11-22T11:59:00.000Z',
  updatedAt: '2026-11-22T12:00:09.500Z',
  role: 'active',
  roleEpoch: 3,
  highestEpoch: 3,
  demotedEpoch: 0,
  seqReserved: 512,
  heartbeatIntervalMs: 1000,
  lease: { epoch: 3, durationMs: 4000, expiresAt: '2026-11-22T12:00:12.500Z', remainingMs: 3000 },
  lastHeartbeat: {
    at: '2026-11-22T12:00:09.500Z',
    ok: true,
    seq: 301,
    httpStatus: 200,
    sentRole: 'active',
    sentEpoch: 3,
    replyRole: 'active',
    replyEpoch: 3,
    leaseMs: 4000,
    commands: [],
  },
  lastSuccessAt: '2026-11-22T12:00:09.500Z',
  consecutiveFailures: 0,
  checks: [{ name: 'failoverping', status: 'ok', detail: 'connected to head-b:22 in 1 ms' }],
  reports: state.reports,
  hooks: {
    promote: {
      operation: 'promote',
      operationId: 'promote-3',
      epoch: 3,
      reason: 'command from the control plane',
      status: 'ok',
      detail: 'promote-3: 1 step ok in 812 ms',
      startedAt: '2026-11-22T12:00:00.000Z',
      finishedAt: '2026-11-22T12:00:01.000Z',
      steps: [
        {
          phase: 'main',
          name: 'makeactive',
          command: ['/usr/bin/cmha', 'makeactive'],
          status: 'ok',
          end: 'exit 0',
          exitCode: 0,
          attempts: 1,
          durationMs: 812,
          stdout: 'Switching to active...\nDone.\n',
          stderr: '',
        },
      ],
    },
  },
  commands: state.commands,
  arbitration: null,
};

describe('renderStatus', () => {
  it('shows role, epochs, lease remaining, the last heartbeat and the last hooks', () => {
    expect(renderStatus({ stateDir: '/var/lib/failover-agent', running: true, state, status }, now)).toBe(
      [
        'failover-agent — cluster bcm-head, node head-a (state in /var/lib/failover-agent)',
        'Agent:           running (pid 4242), status written 500 ms ago',
        'Role:            active under epoch 3',
        'Epochs:          highest seen 3',
        'Lease:           2.5 s left (epoch 3, 4000 ms lease)',
        'Last heartbeat:  ok 500 ms ago: sent active at epoch 3, answered active at epoch 3 with a 4000 ms lease (seq 301)',
        'Sequence:        reserved up to 512',
        'Checks:',
        '  failoverping        OK   connected to head-b:22 in 1 ms',
        'Last hooks:',
        '  promote  OK   promote-3: 1 step ok in 812 ms (promote-3, 9.0 s ago)',
        '      main makeactive: exit 0, 1 attempt(s), 812 ms',
        '        | Switching to active...',
        '        | Done.',
        'Commands:        promote-3 ok',
        '',
      ].join('\n'),
    );
  });

  it('shows no lease for an agent that is not running, and a failing heartbeat with its error', () => {
    const failing: AgentStatus = {
      ...status,
      lastHeartbeat: {
        at: '2026-11-22T12:00:08.000Z',
        ok: false,
        sentRole: 'active',
        sentEpoch: 3,
        error: 'cannot reach cp:443: ECONNREFUSED',
      },
      consecutiveFailures: 4,
    };
    const text = renderStatus({ stateDir: '/s', running: false, state, status: failing }, now);
    expect(text).toContain('Agent:           not running (last seen 500 ms ago, pid 4242)');
    expect(text).toContain('Lease:           none');
    expect(text).toContain(
      'Last heartbeat:  FAILED 2.0 s ago: cannot reach cp:443: ECONNREFUSED (4 in a row; last ok 500 ms ago)',
    );
  });

  it('shows the peer listener, the peer lease and the promises given (peer promises)', () => {
    const withPeer: AgentStatus = {
      ...status,
      peer: {
        url: 'http://10.0.0.1:7946',
        closedEpoch: 2,
        promises: [{ to: 'head-b', epoch: 3, until: '2026-11-22T12:00:14.000Z', remainingMs: 4500 }],
        promotable: { epoch: 3, nodes: ['head-b'], withoutListener: [] },
        peerLease: { epoch: 3, from: ['head-b'], until: '2026-11-22T12:00:13.000Z', remainingMs: 3500 },
      },
    };
    const text = renderStatus({ stateDir: '/s', running: true, state, status: withPeer }, now);
    expect(text).toContain('Peer listener:   http://10.0.0.1:7946 (no promise at or below revoked epoch 2)');
    expect(text).toContain(
      'Peer lease:      3.0 s left (epoch 3, promised by head-b, until 2026-11-22T12:00:13.000Z)',
    );
    expect(text).toContain(
      'Promise given:   to head-b under epoch 3 until 2026-11-22T12:00:14.000Z (4.0 s left): no promotion until then',
    );
    expect(renderStatus({ stateDir: '/s', running: true, state, status }, now)).not.toContain('Peer');
  });

  it('lists the acknowledgements the control plane has not answered yet (none in an older state file)', () => {
    const pending: AgentState = {
      ...state,
      pendingAcks: [{ commandId: 'demote-4', type: 'demote', epoch: 4, outcome: 'failed', steps: [] }],
    };
    const text = renderStatus({ stateDir: '/s', running: true, state: pending, status }, now);
    expect(text).toContain(
      'Unacknowledged:  demote-4 failed (not yet answered by the control plane; re-sent)',
    );
    const { pendingAcks: _gone, ...older } = state;
    const old = renderStatus({ stateDir: '/s', running: true, state: older as AgentState, status }, now);
    expect(old).not.toContain('Unacknowledged');
  });

  it("shows the last fence-peer (from the status: it is not one of the node's hook reports)", () => {
    const fenced: AgentStatus = {
      ...status,
      hooks: {
        ...status.hooks,
        'fence-peer': {
          operation: 'fence-peer',
          operationId: 'fence-peer-head-b-4',
          epoch: 4,
          reason: 'fence-peer command from the control plane: head-b held epoch 4',
          status: 'fail',
          detail: 'fence-peer-head-b-4: main step ipmi-power-off failed (exit 1): head-b is not off',
          startedAt: '2026-11-22T12:00:02.000Z',
          finishedAt: '2026-11-22T12:00:08.000Z',
          steps: [
            {
              phase: 'main',
              name: 'ipmi-power-off',
              command: ['/usr/local/lib/failover-agent/fence-peer-ipmi.sh'],
              status: 'fail',
              end: 'exit 1',
              exitCode: 1,
              attempts: 1,
              durationMs: 6000,
              stdout: 'fencing head-b (epoch 4, fence-peer-head-b-4) through its BMC 10.0.0.12\n',
              stderr: 'head-b is not off 5s after the power-off: Chassis Power is on\n',
            },
          ],
        },
      },
    };
    const text = renderStatus({ stateDir: '/s', running: true, state, status: fenced }, now);
    expect(text).toContain(
      '  fence-peer FAIL fence-peer-head-b-4: main step ipmi-power-off failed (exit 1): head-b is not off ' +
        '(fence-peer-head-b-4, 2.0 s ago)\n' +
        '      main ipmi-power-off: exit 1, 1 attempt(s), 6000 ms\n' +
        '        | head-b is not off 5s after the power-off: Chassis Power is on\n',
    );
  });

  it("shows a drill's silence while it lasts, and nothing once it is over or the agent is not running", () => {
    const silent: AgentState = {
      ...state,
      drillSilence: {
        commandId: 'drill-silence-drill-abc',
        epoch: 3,
        silenceMs: 30_000,
        until: '2026-11-22T12:00:30.000Z',
      },
    };
    const text = renderStatus({ stateDir: '/s', running: true, state: silent, status }, now);
    expect(text).toContain(
      'Drill:           silent until 2026-11-22T12:00:30.000Z (20.0 s left): no heartbeats; the lease lapses and the node self-fences',
    );
    const later = Date.parse('2026-11-22T12:00:31.000Z');
    expect(renderStatus({ stateDir: '/s', running: true, state: silent, status }, later)).not.toContain(
      'Drill:',
    );
    expect(renderStatus({ stateDir: '/s', running: false, state: silent, status }, now)).not.toContain(
      'Drill:',
    );
    expect(renderStatus({ stateDir: '/s', running: true, state, status }, now)).not.toContain('Drill:');
  });
});

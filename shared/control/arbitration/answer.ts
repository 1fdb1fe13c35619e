import type { ArbitrationAnswer } from '../../contracts/agentApi';
import type { ArbitrationDecision } from './arbitration';

/** What an arbitration decision means for the node that asked: the body of the agent's answer (the contract's). */
export type { ArbitrationAnswer } from '../../contracts/agentApi';

export function arbitrationAnswer(nodeId: string, decision: ArbitrationDecision): ArbitrationAnswer {
  if (decision.outcome === 'decided') {
    const won = decision.winner === nodeId;
    return {
      decision: won ? 'won' : 'lost',
      epoch: decision.epoch,
      role: won ? 'active' : 'standby',
      fence: !won,
      winner: decision.winner,
    };
  }
  if (decision.outcome === 'superseded') {
    const active = decision.activeNodeId === nodeId;
    return {
      decision: 'superseded',
      epoch: decision.epoch,
      role: active ? 'active' : 'standby',
      fence: !active,
      winner: decision.activeNodeId,
    };
  }
  if (decision.outcome === 'refused') {
    // Nothing changed: each node keeps the role it had; nobody is told to fence.
    const active = decision.activeNodeId === nodeId;
    return {
      decision: 'refused',
      epoch: decision.epoch,
      role: active ? 'active' : 'standby',
      fence: false,
      winner: decision.activeNodeId,
      reason: `${decision.code}: ${decision.reason}`,
    };
  }
  return { decision: 'pending', winner: decision.winner };
}

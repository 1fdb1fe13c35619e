import type { ArbitrationDecision } from './arbitration';

/** What an arbitration decision means for the node that asked (the body of the agent's answer). */
export type ArbitrationAnswer =
  | {
      decision: 'won' | 'lost' | 'superseded';
      epoch: number;
      role: 'active' | 'standby';
      /** True when the node must fence itself (demote, stop acting as active). */
      fence: boolean;
      winner: string | null;
    }
  | { decision: 'pending'; winner: string };

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
  return { decision: 'pending', winner: decision.winner };
}

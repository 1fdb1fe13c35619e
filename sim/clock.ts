/**
 * A drifting clock: local = real × (1 + drift) + offset. Linear, so it is monotonic (drift > −1) and invertible:
 * the scheduler runs in real time, and an actor's timer set on its own clock fires at `realAt(local)`.
 */
export class DriftingClock {
  constructor(
    readonly drift: number,
    readonly offset: number,
  ) {
    if (!(drift > -1)) throw new Error('a clock must run forwards');
  }

  localAt(real: number): number {
    return real * (1 + this.drift) + this.offset;
  }

  realAt(local: number): number {
    return (local - this.offset) / (1 + this.drift);
  }
}

/**
 * Clock drift, for the timing rules (lease, promotion wait, peer promises). A module of its own, with no
 * dependency, so the agent and failoverctl bundles that need it do not pull in the cluster document's schema (and its
 * packages).
 */

/** Clock drift the safety margin must cover, as a rate: 1% (quartz drifts ~50 ppm; this also covers NTP slews). */
export const MAX_CLOCK_DRIFT_RATE = 0.01;

/**
 * The smallest drift margin that keeps rule 3 safe for a lease of `leaseMs`. Two clocks time the lease, each within
 * MAX_CLOCK_DRIFT_RATE (ρ) of true time: the agent's (its lease, from the send time) and the control plane's (the
 * recorded expiry, from the receive time, plus the margin). At worst the agent's runs slow, so its lease lasts
 * leaseMs / (1 − ρ) of real time, while the control plane's runs fast, so its wait lasts (leaseMs + margin) / (1 + ρ).
 * The wait must not end first: margin ≥ leaseMs × 2ρ / (1 − ρ), about 2% of the lease. 1% is not enough:
 * `npm run sim -- --seed 19 --broken single-clock-drift-margin` promotes a standby 4 ms before the old active's lease
 * ends.
 */
export function minDriftMarginMs(leaseMs: number): number {
  return Math.ceil((leaseMs * 2 * MAX_CLOCK_DRIFT_RATE) / (1 - MAX_CLOCK_DRIFT_RATE));
}

/**
 * The control plane as a devhost child process, killed for real and restarted on the same storage: moved to
 * chaos/hostProcess.ts (the chaos harness runs it too); re-exported here for the crash tests.
 */
export { crashTestApp, freePort, spawnHost, stopHost, type HostProcess } from '../../chaos/hostProcess';

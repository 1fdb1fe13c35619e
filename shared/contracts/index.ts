/** The wire contracts of the control plane: ids, bounds, strict JSON, errors, the agent API and the routes. */
export * from './agentApi';
export * from './peerApi';
export * from './bounds';
export * from './errors';
export * from './ids';
export * from './json';
export * from './routes';
export * from './operationsApi';

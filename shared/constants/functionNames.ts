/** Every function name of the app, in one place: registrations and callers use these, never string literals. */
export const FunctionNames = {
  health: 'health',
} as const;

export type FunctionName = (typeof FunctionNames)[keyof typeof FunctionNames];

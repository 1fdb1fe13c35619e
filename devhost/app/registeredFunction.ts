/** One binding as the library describes it in `metadata.bindings` (`{...options, type, direction, properties}`). */
export interface BindingInfo {
  name: string;
  type: string;
  direction: 'in' | 'out' | 'inout';
  [option: string]: unknown;
}

export type FunctionCallback = (triggerValue: unknown, context: unknown) => unknown;

/** A function captured from `registerFunction(metadata, callback)` while the app was loading. */
export interface RegisteredFunction {
  name: string;
  /** The trigger binding; its `type` ends in `Trigger` (`httpTrigger`, `orchestrationTrigger`, ...). */
  trigger: BindingInfo;
  extraInputs: BindingInfo[];
  extraOutputs: BindingInfo[];
  returnBinding: BindingInfo | undefined;
  callback: FunctionCallback;
}

export type TriggerKind = 'http' | 'timer' | 'orchestration' | 'activity' | 'entity' | 'other';

export function triggerKindOf(fn: RegisteredFunction): TriggerKind {
  switch (fn.trigger.type.toLowerCase()) {
    case 'httptrigger':
      return 'http';
    case 'timertrigger':
      return 'timer';
    case 'orchestrationtrigger':
      return 'orchestration';
    case 'activitytrigger':
      return 'activity';
    case 'entitytrigger':
      return 'entity';
    default:
      return 'other';
  }
}

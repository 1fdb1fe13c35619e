/** DTFx-style resource names for a task hub, so Storage Explorer shows something familiar. */
export interface TaskHubNames {
  hub: string;
  instancesTable: string;
  historyTable: string;
  timersTable: string;
  controlQueue: string;
  workItemQueue: string;
  largeMessagesContainer: string;
}

/** Task hub names: 3–45 letters and digits, starting with a letter (the Azure Storage provider's rule). */
export function taskHubNames(hub: string): TaskHubNames {
  if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(hub)) {
    throw new Error(`Task hub name "${hub}" is invalid: use 3-45 letters and digits, starting with a letter`);
  }
  const lower = hub.toLowerCase();
  return {
    hub,
    instancesTable: `${hub}Instances`,
    historyTable: `${hub}History`,
    timersTable: `${hub}Timers`,
    controlQueue: `${lower}-control-00`,
    workItemQueue: `${lower}-workitems`,
    largeMessagesContainer: `${lower}-largemessages`,
  };
}

import type { Command } from '../command';
import { applyCommand, nodeKeyCommand, witnessBreakCommand } from './adminCommands';
import { deleteCommand } from './deleteCommand';
import { demoCommands } from './demoCommands';
import { drillListCommand, drillRunCommand, drillShowCommand } from './drillCommands';
import { failoverCommand } from './failoverCommand';
import { makeActiveCommand } from './makeActiveCommand';
import { auditCommand, opsListCommand, opsShowCommand } from './opsCommands';
import { poolsDemandCommand, poolsPlanCommand, poolsShowCommand } from './poolCommands';
import { statusCommand } from './statusCommand';

/** Every command of `failoverctl`, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  statusCommand,
  makeActiveCommand,
  failoverCommand,
  drillRunCommand,
  drillListCommand,
  drillShowCommand,
  opsListCommand,
  opsShowCommand,
  auditCommand,
  poolsShowCommand,
  poolsDemandCommand,
  poolsPlanCommand,
  applyCommand,
  nodeKeyCommand,
  witnessBreakCommand,
  deleteCommand,
  ...demoCommands,
];

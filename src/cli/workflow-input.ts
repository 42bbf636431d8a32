// Turns command-line flags into the ONE JSON input object a workflow takes — the same
// object the Web UI's Start Workflow form sends — and checks it against the inventory and
// the workflow's own input schema before anything is started: an unknown workflow, zone,
// strategy or duration is a usage error (exit 2), never a failed run in history.
import { type Command } from 'commander';
import { z } from 'zod';
import {
  closest,
  findZone,
  formatDuration,
  parseDuration,
  UnknownZoneError,
  type Inventory,
} from '../inventory';
import {
  checkWorkflowInput,
  MAX_PARALLELISM,
  type BootstrapInput,
  type RotateRootInput,
  type RotateZoneInput,
} from '../workflows/inputs';
import { WORKFLOW_TYPES, workflowIds, type WorkflowType } from '../workflows/types';
import { CliError, EXIT } from './output';

export function parseWorkflowType(name: string): WorkflowType {
  const found =
    WORKFLOW_TYPES.find((w) => w === name) ??
    WORKFLOW_TYPES.find((w) => w.toLowerCase() === name.toLowerCase());
  if (found) return found;
  const hint = closest(name, WORKFLOW_TYPES);
  throw new CliError(
    `unknown workflow "${name}". Known workflows: ${WORKFLOW_TYPES.join(', ')}.${hint ? ` Did you mean "${hint}"?` : ''}`,
  );
}

const durationFlag = (flag: string) =>
  z
    .string()
    .refine((v) => parseDuration(v) !== undefined, {
      error: (i) => `${flag} "${String(i.input)}" is not a duration like "90s", "10m" or "1h30m"`,
    })
    .optional();

export const inputFlagsSchema = z.object({
  zone: z.string().optional(),
  dryRun: z.boolean().optional(),
  approve: z.boolean().optional(),
  rotate: z.boolean().optional(),
  // Commander hands the flag over as text; the workflow's schema checks the range.
  parallelism: z
    .string()
    .regex(/^\d+$/, {
      error: (i) => `--parallelism "${String(i.input)}" is not a whole number from 1 to ${MAX_PARALLELISM}`,
    })
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_PARALLELISM, {
      error: (i) => `--parallelism ${String(i.input)} is not from 1 to ${MAX_PARALLELISM}`,
    })
    .optional(),
  strategy: z
    .enum(['overlap', 'in-place', 'rolling', 'all-at-once'], {
      error: (i) =>
        `--strategy "${String(i.input)}" is not one of: overlap, in-place (RotateZone), rolling, all-at-once (RotateRoot)`,
    })
    .optional(),
  grace: durationFlag('--grace'),
  maxGrace: durationFlag('--max-grace'),
  restartTimeout: durationFlag('--restart-timeout'),
  pauseTimeout: durationFlag('--pause-timeout'),
  approvalTimeout: durationFlag('--approval-timeout'),
});
export type InputFlags = z.infer<typeof inputFlagsSchema>;

/** Adds the input flags shared by start-workflow, plan and schedule create. */
export function withInputFlags(cmd: Command, opts: { dryRun?: boolean } = { dryRun: true }): Command {
  cmd
    .option('--zone <zone>', 'RotateZone: the zone to rotate (see the inventory)')
    .option(
      '--strategy <strategy>',
      'RotateZone: overlap (default) or in-place; RotateRoot: rolling (one store pod at a time) or all-at-once (default: rolling where preflight proves it safe)',
    )
    .option('--grace <duration>', 'RotateZone: how long the previous key stays valid, e.g. 0s, 10m')
    .option(
      '--max-grace <duration>',
      'RotateZone: longest wait for old pods before the previous key is revoked anyway (escalates)',
    )
    .option('--rotate', 'BootstrapCluster: also rotate every zone afterwards')
    .option('--parallelism <n>', `BootstrapCluster: zones handled at once, 1-${MAX_PARALLELISM} (default 8)`)
    .option('--approve', 'RotateRoot: pre-approve (skip the approval gate)')
    .option('--restart-timeout <duration>', 'RotateRoot: store restart window before pausing')
    .option(
      '--pause-timeout <duration>',
      'RotateRoot: how long a pause waits for on-call before rolling back',
    )
    .option('--approval-timeout <duration>', 'RotateRoot: how long to wait for approval');
  if (opts.dryRun) cmd.option('--dry-run', 'read-only: return the plan');
  return cmd;
}

export type WorkflowInput = BootstrapInput | RotateZoneInput | RotateRootInput;

export interface PreparedStart {
  workflowType: WorkflowType;
  workflowId: string;
  input: WorkflowInput;
  zone?: string;
  /** One line for the Web UI's list and the run's header. */
  summary: string;
}

function refuse(flags: InputFlags, names: Array<keyof InputFlags>, workflow: WorkflowType): void {
  const given = names.filter((n) => flags[n] !== undefined && flags[n] !== false);
  if (given.length) {
    const flag = (n: string) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new CliError(
      `${given.map(flag).join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply to ${workflow}`,
    );
  }
}

/** Validates flags against the workflow and inventory; throws CliError (exit 2) before anything starts. */
export function prepareStart(workflowName: string, rawFlags: unknown, inventory: Inventory): PreparedStart {
  const prepared = fromFlags(workflowName, rawFlags, inventory);
  // The workflow validates its input with the same schema: refuse here what it would refuse.
  const checked = checkWorkflowInput(prepared.workflowType, prepared.input);
  if (!checked.ok) throw new CliError(checked.message);
  return prepared;
}

function fromFlags(workflowName: string, rawFlags: unknown, inventory: Inventory): PreparedStart {
  const workflowType = parseWorkflowType(workflowName);
  const parsed = inputFlagsSchema.safeParse(rawFlags);
  if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => i.message).join('; '));
  const f = parsed.data;
  const dry = f.dryRun ? ' (dry run)' : '';
  switch (workflowType) {
    case 'BootstrapCluster': {
      refuse(
        f,
        [
          'zone',
          'strategy',
          'grace',
          'maxGrace',
          'approve',
          'restartTimeout',
          'pauseTimeout',
          'approvalTimeout',
        ],
        workflowType,
      );
      const input: BootstrapInput = {};
      if (f.dryRun) input.dryRun = true;
      if (f.rotate) input.rotate = true;
      if (f.parallelism !== undefined) input.parallelism = f.parallelism;
      return {
        workflowType,
        workflowId: workflowIds.bootstrap,
        input,
        summary: `BootstrapCluster${f.rotate ? ' + rotate every zone' : ''}${dry}: ${inventory.zones.map((z) => z.name).join(', ')}`,
      };
    }
    case 'RotateZone': {
      refuse(
        f,
        ['rotate', 'parallelism', 'approve', 'restartTimeout', 'pauseTimeout', 'approvalTimeout'],
        workflowType,
      );
      if (!f.zone) {
        throw new CliError(
          `RotateZone needs --zone <zone>. Known zones: ${inventory.zones.map((z) => z.name).join(', ')}.`,
        );
      }
      let zone;
      try {
        zone = findZone(inventory, f.zone);
      } catch (err) {
        if (err instanceof UnknownZoneError) throw new CliError(err.message);
        throw err;
      }
      const input: RotateZoneInput = { zone: zone.name };
      if (f.dryRun) input.dryRun = true;
      if (f.strategy === 'rolling' || f.strategy === 'all-at-once')
        throw new CliError(`--strategy ${f.strategy} is RotateRoot's; RotateZone takes overlap or in-place`);
      if (f.strategy) input.strategy = f.strategy;
      if (f.grace) input.grace = f.grace;
      if (f.maxGrace) input.maxGrace = f.maxGrace;
      const graceMs = f.grace ? parseDuration(f.grace)! : zone.graceMs;
      const maxGraceMs = f.maxGrace ? parseDuration(f.maxGrace)! : zone.maxGraceMs;
      if (maxGraceMs < graceMs) {
        throw new CliError(
          `${f.maxGrace ? '--max-grace' : `maxGrace of zone ${zone.name}`} ${formatDuration(maxGraceMs)} is shorter than ${f.grace ? '--grace' : `the grace of zone ${zone.name}`} ${formatDuration(graceMs)}: maxGrace bounds the whole wait`,
        );
      }
      return {
        workflowType,
        workflowId: workflowIds.zone(zone.name),
        input,
        zone: zone.name,
        summary: `RotateZone ${zone.name} (${f.strategy ?? zone.strategy}, grace ${f.grace ?? zone.grace})${dry}`,
      };
    }
    case 'RotateRoot': {
      refuse(f, ['zone', 'grace', 'maxGrace', 'rotate', 'parallelism'], workflowType);
      const input: RotateRootInput = {};
      if (f.dryRun) input.dryRun = true;
      if (f.strategy === 'overlap' || f.strategy === 'in-place')
        throw new CliError(`--strategy ${f.strategy} is RotateZone's; RotateRoot takes rolling or all-at-once`);
      if (f.strategy) input.strategy = f.strategy;
      // The workflow refuses it too (InvalidInput); refused here, nothing is started or scheduled.
      if (f.approve && !inventory.approvals.allowInputApproval)
        throw new CliError(
          '--approve (approve: true, a pre-approved run or schedule) is refused: the inventory does not allow it ' +
            '(approvals.allowInputApproval is false); start without --approve and have an authorized identity ' +
            'approve the run (rotator approve <workflowId>)',
          EXIT.usage,
        );
      if (f.approve) input.approve = true;
      if (f.restartTimeout) input.restartTimeout = f.restartTimeout;
      if (f.pauseTimeout) input.pauseTimeout = f.pauseTimeout;
      if (f.approvalTimeout) input.approvalTimeout = f.approvalTimeout;
      return {
        workflowType,
        workflowId: workflowIds.root,
        input,
        summary: `RotateRoot of ${inventory.store.rootSecret.namespace}/${inventory.store.rootSecret.name}${f.strategy ? `, ${f.strategy}` : ''}${f.approve ? ' (pre-approved)' : ' (needs approval)'}${dry}`,
      };
    }
  }
}

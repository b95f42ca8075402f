/**
 * The one model of instance lifecycle states: which states DetachInstances / RemoveInstances (ESS), and
 * DetachInstances / RemoveInstances / v2 DetachInstance (Tencent AS) take. The emulator answers by it and the
 * preflight refuses by it, so the two cannot disagree.
 *
 * `basis` says how we know. Nothing here was run against the live clouds:
 * - `documented`: the API reference or the seed documents say so.
 * - `inferred`: follows from documented rules. ESS's Pending, Pending:Wait, Removing and Removing:Wait exist
 *   only while a scaling activity runs on the group (scale-out, scale-in, their lifecycle hooks), and the seeds
 *   document that DetachInstances / RemoveInstances are refused while an activity is in progress.
 * - `unknown`: no reference says what the service does; we keep the behaviour the project always had.
 */
export type StateBasis = 'documented' | 'inferred' | 'unknown';

export interface InstanceStateRule {
  /** Whether the API takes an instance in this state out of its group. */
  accepted: boolean;
  basis: StateBasis;
}

/** ESS LifecycleState values (DescribeScalingInstances, API reference). */
export const ESS_INSTANCE_STATES = {
  InService: { accepted: true, basis: 'documented' },
  Pending: { accepted: false, basis: 'inferred' },
  'Pending:Wait': { accepted: false, basis: 'inferred' },
  Removing: { accepted: false, basis: 'inferred' },
  'Removing:Wait': { accepted: false, basis: 'inferred' },
  Protected: { accepted: true, basis: 'unknown' },
  Standby: { accepted: true, basis: 'unknown' },
  Stopped: { accepted: true, basis: 'unknown' },
} as const satisfies Record<string, InstanceStateRule>;

/**
 * Tencent AS API 3.0 LifeCycleState values (the Instance model of the 2018-04-19 reference). The reference says
 * DetachInstances / RemoveInstances work on IN_SERVICE instances and check MinSize against the IN_SERVICE count;
 * what the service answers for each other state is not documented, so they are refused as a group.
 */
export const TENCENT_INSTANCE_STATES = {
  IN_SERVICE: { accepted: true, basis: 'documented' },
  CREATING: { accepted: false, basis: 'unknown' },
  CREATION_FAILED: { accepted: false, basis: 'unknown' },
  TERMINATING: { accepted: false, basis: 'unknown' },
  TERMINATION_FAILED: { accepted: false, basis: 'unknown' },
  ATTACHING: { accepted: false, basis: 'unknown' },
  ATTACH_FAILED: { accepted: false, basis: 'unknown' },
  DETACHING: { accepted: false, basis: 'unknown' },
  DETACH_FAILED: { accepted: false, basis: 'unknown' },
  ATTACHING_LB: { accepted: false, basis: 'unknown' },
  DETACHING_LB: { accepted: false, basis: 'unknown' },
  MODIFYING_LB: { accepted: false, basis: 'unknown' },
  STARTING: { accepted: false, basis: 'unknown' },
  START_FAILED: { accepted: false, basis: 'unknown' },
  STOPPING: { accepted: false, basis: 'unknown' },
  STOP_FAILED: { accepted: false, basis: 'unknown' },
  STOPPED: { accepted: false, basis: 'unknown' },
  IN_LAUNCHING_HOOK: { accepted: false, basis: 'unknown' },
  IN_TERMINATING_HOOK: { accepted: false, basis: 'unknown' },
} as const satisfies Record<string, InstanceStateRule>;

export type EssInstanceState = keyof typeof ESS_INSTANCE_STATES;
export type TencentInstanceState = keyof typeof TENCENT_INSTANCE_STATES;

const TABLES: Record<'aliyun' | 'tencent', Record<string, InstanceStateRule>> = {
  aliyun: ESS_INSTANCE_STATES,
  tencent: TENCENT_INSTANCE_STATES,
};

/** Whether the cloud's API takes an instance in `state` out of its group; a state the table lacks is refused. */
export function instanceStateAccepted(provider: 'aliyun' | 'tencent', state: string): boolean {
  return Object.hasOwn(TABLES[provider], state) && (TABLES[provider][state] as InstanceStateRule).accepted;
}

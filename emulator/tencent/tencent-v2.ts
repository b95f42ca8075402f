import { instanceStateAccepted } from '../../shared/contracts/instance-states.ts';
import { NonceWindow } from '../nonce-window.ts';
import type { Permit } from '../policies.ts';
import { hostVariants, sameSecret, tencentSignedName, tencentV1Signature } from '../signatures.ts';
import type { TencentState } from './tencent-state.ts';

export const V2_PATH = '/v2/index.php';

export interface V2Answer {
  code: number;
  message: string;
  codeDesc: string;
  data?: unknown;
}

class V2Error extends Error {
  constructor(
    readonly code: number,
    readonly codeDesc: string,
    message: string,
  ) {
    super(message);
  }
}

const REPLAY_WINDOW_S = 2 * 3600;
/** The v2 short region codes (docs/reference/tencent-as.md §A1) and the API 3.0 names they stand for. */
const V2_REGIONS: Record<string, string> = {
  gz: 'ap-guangzhou',
  sh: 'ap-shanghai',
  bj: 'ap-beijing',
  cd: 'ap-chengdu',
  cq: 'ap-chongqing',
  hk: 'ap-hongkong',
  sg: 'ap-singapore',
  ca: 'na-toronto',
  usw: 'na-siliconvalley',
  de: 'eu-frankfurt',
};
export const v2Region = (region: string): string => V2_REGIONS[region] ?? region;
const v2Error = (code: number, codeDesc: string, message: string) => new V2Error(code, codeDesc, message);

/** Tencent AS legacy v2 (`/v2/index.php`): v2 signature check, `code`/`codeDesc`/`message` answers. */
export class TencentV2 {
  readonly #nonces = new NonceWindow(REPLAY_WINDOW_S * 1000);

  constructor(
    private readonly state: TencentState,
    private readonly secrets: () => Map<string, string>,
    private readonly now: () => number = Date.now,
    /** The CAM check of the caller's policies (emulator/policies.ts); absent: every signed call is allowed. */
    private readonly permit?: Permit,
  ) {}

  handle(method: string, host: string, rawParams: Record<string, string>): V2Answer {
    // Names are read as the signature reads them: `instanceIds_0` is `instanceIds.0`.
    const params = Object.fromEntries(
      Object.entries(rawParams).map(([name, value]) => [tencentSignedName(name), value]),
    );
    try {
      this.authenticate(method, host, rawParams, params);
      const denied = this.permit?.(params.SecretId ?? '', `as:${params.Action}`, {
        region: v2Region(params.Region ?? ''),
        groupId: params.scalingGroupId,
      });
      // 4102 is among the codes §A5 of the reference gives for "not authorized" (which of 4101-4104: inferred).
      if (denied) throw v2Error(4102, 'UnauthorizedOperation', denied);
      return { code: 0, message: '', codeDesc: 'Success', ...this.act(params) };
    } catch (error) {
      if (!(error instanceof V2Error)) throw error;
      return { code: error.code, message: error.message, codeDesc: error.codeDesc };
    }
  }

  private authenticate(
    method: string,
    host: string,
    raw: Record<string, string>,
    params: Record<string, string>,
  ): void {
    for (const name of ['Action', 'SecretId', 'Timestamp', 'Nonce', 'Signature']) {
      if (!params[name]) throw v2Error(4000, 'MissingParameter', `The parameter ${name} is missing.`);
    }
    const secretKey = this.secrets().get(params.SecretId as string);
    if (!secretKey) throw v2Error(4104, 'AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    // The SDK signs the host without the port; a hand-made client may sign it as sent.
    const matches = hostVariants(host).some((candidate) =>
      sameSecret(tencentV1Signature(method, candidate, V2_PATH, raw, secretKey), params.Signature as string),
    );
    if (!matches) throw v2Error(4100, 'AuthFailure.SignatureFailure', 'The signature does not match.');
    const now = this.now();
    if (Math.abs(now / 1000 - Number(params.Timestamp)) > REPLAY_WINDOW_S) {
      throw v2Error(4500, 'RequestReplayed', 'The Timestamp is more than 2 hours off the server time.');
    }
    const nonceKey = `${params.SecretId}:${params.Nonce}`;
    if (this.#nonces.has(nonceKey, now))
      throw v2Error(4500, 'RequestReplayed', 'The Nonce was used already.');
    this.#nonces.add(nonceKey, now);
  }

  private act(params: Record<string, string>): Partial<V2Answer> {
    switch (params.Action) {
      case 'DetachInstance':
        return this.detachInstance(params);
      case 'DescribeScalingInstance':
        return this.describeScalingInstance(params);
      case 'DescribeScalingActivity':
        return this.describeScalingActivity(params);
      default:
        throw v2Error(4000, 'InvalidParameter.ActionNotFound', `The action ${params.Action} is not found.`);
    }
  }

  /** The group, looked up in the call's Region (a short code or an API 3.0 name), as API 3.0 and ESS do. */
  private group(params: Record<string, string>) {
    if (!params.Region) throw v2Error(4000, 'MissingParameter', 'The parameter Region is missing.');
    const group = this.state.groups.get(params.scalingGroupId ?? '');
    if (!group || group.region !== v2Region(params.Region))
      throw v2Error(5100, 'InvalidParameter.ScalingGroupIdError', '(100004) Incorrect scalingGroupId.');
    return group;
  }

  /** Seed: tencent-as-v2-DetachInstance.md, rules 1-5. */
  private detachInstance(params: Record<string, string>): Partial<V2Answer> {
    const group = this.group(params);
    // An id named twice is one instance: it counts once against minSize and is acted on once.
    const instanceIds = [...new Set(listOf(params, 'instanceIds'))];
    if (instanceIds.length === 0)
      throw v2Error(4000, 'MissingParameter', 'The parameter instanceIds.n is missing.');
    const keep = params.keepInstance ?? '0';
    if (keep !== '0' && keep !== '1') throw v2Error(4000, 'InvalidParameter', 'keepInstance must be 0 or 1.');
    const members = this.state.membersOf(group.autoScalingGroupId);
    const outside = instanceIds.find((id) => !members.some((m) => m.instanceId === id));
    if (outside)
      throw v2Error(5100, 'InvalidParameter.InstanceIdError', `(100005) Incorrect instanceId ${outside}.`);
    const busy = instanceIds.find(
      (id) =>
        !instanceStateAccepted('tencent', members.find((m) => m.instanceId === id)?.lifeCycleState ?? ''),
    );
    if (busy) throw v2Error(5100, 'InstanceInOperation', `(40006) The instance ${busy} is not in service.`);
    if (!group.enabled)
      throw v2Error(5100, 'ScalingGroupNotActive', '(40002) The scaling group is not active.');
    const now = this.now();
    if (this.state.inActivity(group.autoScalingGroupId, now)) {
      throw v2Error(
        5100,
        'ScalingGroupInActivity',
        '(40000) The scaling group is performing a scaling activity.',
      );
    }
    if (members.length - instanceIds.length < group.minSize) {
      throw v2Error(
        5100,
        'BelowMinSize',
        '(40005) The instance count would fall below the minimum group size.',
      );
    }
    this.state.start(group, 'DETACH_INSTANCES', instanceIds, keep === '0', now);
    return {};
  }

  private describeScalingInstance(params: Record<string, string>): Partial<V2Answer> {
    const group = this.group(params);
    const ids = listOf(params, 'instanceIds');
    if (ids.length > 20) throw v2Error(4000, 'InvalidParameter', 'At most 20 instanceIds.');
    this.state.settle(this.now());
    const instances = this.state
      .membersOf(group.autoScalingGroupId)
      .filter((i) => ids.length === 0 || ids.includes(i.instanceId));
    return {
      data: {
        totalCount: instances.length,
        scalingInstancesSet: instances.map((i) => ({
          instanceId: i.instanceId,
          healthStatus: 'HEALTHY',
          creationType: i.creationType === 'AUTO_CREATION' ? 'Auto' : 'Manual',
          lifeCycleState: i.lifeCycleState === 'IN_SERVICE' ? 'InService' : 'Detaching',
          protectedFromScaleIn: i.protectedFromScaleIn ? 1 : 0,
          addTime: v2Time(i.addedAt),
        })),
      },
    };
  }

  private describeScalingActivity(params: Record<string, string>): Partial<V2Answer> {
    const group = this.group(params);
    const now = this.now();
    this.state.settle(now);
    const v2Status = {
      INIT: 0,
      RUNNING: 1,
      SUCCESSFUL: 2,
      PARTIALLY_SUCCESSFUL: 3,
      FAILED: 4,
      CANCELLED: 5,
    } as const;
    const activities = this.state.activitiesOf(group.autoScalingGroupId);
    return {
      data: {
        totalCount: activities.length,
        scalingActivitySet: activities.map((a) => ({
          autoScalingGroupId: a.groupId,
          scalingActivityId: a.id,
          type: 3,
          status: v2Status[this.state.statusOf(a, now)],
          errorCode: 0,
          cause: 'A user requested to detach instances.',
          // The v2 reference spells this field so.
          desciption: `Detach ${a.instanceIds.length} instance(s): ${a.instanceIds.join(', ')}`,
          msg: a.settled ? (a.outcome === 'SUCCESSFUL' ? 'success' : a.outcome.toLowerCase()) : '',
          succInsList: a.settled ? this.state.succeededOf(a) : [],
          failInsList: a.settled ? a.instanceIds.filter((id) => !this.state.succeededOf(a).includes(id)) : [],
          startTime: v2Time(a.startedAt),
          endTime: a.settled ? v2Time(a.endsAt) : '',
        })),
      },
    };
  }
}

/** `YYYY-MM-DD hh:mm:ss`, as v2 writes times. */
const v2Time = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** `name.0 .. name.N-1`, 0-based as v2 numbers lists. */
function listOf(params: Record<string, string>, name: string): string[] {
  return Object.keys(params)
    .map((key) => new RegExp(`^${name}\\.(\\d+)$`).exec(key)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
    .map((n) => params[`${name}.${n}`] as string);
}

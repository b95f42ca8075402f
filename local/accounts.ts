import type { StsRole } from '../emulator/sts/sts-emulator.ts';
import type { AccountRegistryData } from '../shared/accounts/account-registry.ts';

/**
 * The local stack's account registry (issue #21): two member accounts per cloud, whose roles the stack registers in
 * the emulator's STS, so a request may name one (`"account": "shop-dev"`) and act through an assumed role. The
 * functions get it inline (ACCOUNTS: there is no SSM locally); deployed, it is the ACCOUNTS_PARAMETER parameter.
 * Their account ids are not the emulator seed's member accounts (those hold groups of their own, for
 * test/cloud-policies*.int.test.ts): roles of these ids, registered at start, act on the default seed's groups; the
 * deployment keys' principal policy (docs/policies/) names them among its member accounts.
 */
export const LOCAL_ACCOUNTS = {
  accounts: [
    {
      name: 'shop-dev',
      cloud: 'aliyun',
      roleArn: 'acs:ram::1000000000000011:role/scaling-detach',
      externalId: 'local-shop-dev',
    },
    { name: 'shop-test', cloud: 'aliyun', roleArn: 'acs:ram::1000000000000012:role/scaling-detach' },
    {
      name: 'games-dev',
      cloud: 'tencent',
      roleArn: 'qcs::cam::uin/100000000011:roleName/scaling-detach',
      externalId: 'local-games-dev',
    },
    {
      name: 'games-test',
      cloud: 'tencent',
      roleArn: 'qcs::cam::uin/100000000012:roleName/scaling-detach',
      allowedRegions: ['ap-guangzhou', 'ap-shanghai'],
    },
  ],
} satisfies AccountRegistryData;

/** The member roles the emulator's STS lets the local keys assume, each trusting its account's external id. */
export const LOCAL_ACCOUNT_ROLES: StsRole[] = LOCAL_ACCOUNTS.accounts.map((account) => ({
  cloud: account.cloud,
  roleArn: account.roleArn,
  ...('externalId' in account && { externalId: account.externalId }),
}));

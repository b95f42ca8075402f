/** Regions served by the central endpoint (docs/reference/aliyun-ess.md §1); every other region has its own host. */
const CENTRAL_REGIONS = new Set([
  'cn-qingdao',
  'cn-beijing',
  'cn-hangzhou',
  'cn-shanghai',
  'cn-shenzhen',
  'ap-southeast-1',
  'us-east-1',
  'us-west-1',
]);

export const essEndpoint = (region: string): string =>
  CENTRAL_REGIONS.has(region) ? 'https://ess.aliyuncs.com/' : `https://ess.${region}.aliyuncs.com/`;

import { describe, expect, it } from 'vitest';
import { essEndpoint } from './ess-endpoints.ts';

describe('essEndpoint', () => {
  it.each([
    ['cn-hangzhou', 'https://ess.aliyuncs.com/'],
    ['ap-southeast-1', 'https://ess.aliyuncs.com/'],
    ['us-west-1', 'https://ess.aliyuncs.com/'],
    ['cn-zhangjiakou', 'https://ess.cn-zhangjiakou.aliyuncs.com/'],
    ['eu-central-1', 'https://ess.eu-central-1.aliyuncs.com/'],
    ['cn-hongkong', 'https://ess.cn-hongkong.aliyuncs.com/'],
  ])('%s -> %s', (region, endpoint) => {
    expect(essEndpoint(region)).toBe(endpoint);
  });
});

/**
 * AWS list prices, us-east-1, in dollars: the one table every cost figure of the bench (P6) is priced with.
 * Lambda at the x86 price, as issue #20 priced it; the functions run on arm64, which is 20 % less a GB-second
 * ($0.0000133334), so the Lambda figures are an upper bound.
 */
export const PRICES = {
  dynamodbWriteUnit: 0.625 / 1e6,
  dynamodbReadUnit: 0.125 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  sqsStandardRequest: 0.4 / 1e6,
  eventBridgeEvent: 1 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000166667,
  stepFunctionsStandardTransition: 25 / 1e6,
  stepFunctionsExpressRequest: 1 / 1e6,
  /** Express workflows: per GB-second of the workflow's run, billed at 64 MB at least, in 100 ms steps. */
  stepFunctionsExpressGbSecond: 0.00001667,
} as const;

/** The deployed memory of every function (serverless.yml provider.memorySize), in GB. */
export const FUNCTION_GB = 512 / 1024;

/** Seconds in a 30-day month. */
export const MONTH_SECONDS = 30 * 24 * 3600;

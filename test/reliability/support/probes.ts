// Reads the server's own accounts of itself over HTTP: /metrics and /healthz.

/** One sample of a Prometheus metric from /metrics, e.g. sample(url, 'users_password_hash_duration_seconds_count{op="verify"}'). */
export async function metricSample(baseUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** How many bcrypt comparisons (verify) and hashes the server has computed so far. */
export async function bcryptRuns(baseUrl: string): Promise<{ verify: number; hash: number }> {
  return {
    verify: await metricSample(baseUrl, 'users_password_hash_duration_seconds_count{op="verify"}'),
    hash: await metricSample(baseUrl, 'users_password_hash_duration_seconds_count{op="hash"}'),
  };
}

export async function isAlive(baseUrl: string): Promise<boolean> {
  try {
    return (await fetch(`${baseUrl}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

/**
 * Waits, if needed, until at least `needMs` are left in the current UTC minute. The per-minute request limit is
 * @upstash/ratelimit's sliding window, which weighs the previous minute's count by the remaining fraction and
 * rounds down: requests that straddle a minute boundary may be admitted once more (docs/reliability.md). Tests
 * that count exact admissions start away from the boundary. (Plain timers only: used in workerd and in Node.)
 */
export async function awayFromMinuteBoundary(needMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

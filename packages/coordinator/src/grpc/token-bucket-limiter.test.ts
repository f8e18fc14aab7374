import { ManualClock } from "@strata/runtime-core";
import { createBearerAuth } from "../auth/bearer-auth.js";
import { peerKey } from "./call-guard.js";
import { createTokenBucketLimiter } from "./token-bucket-limiter.js";

describe("createTokenBucketLimiter", () => {
  test("allows the burst, then the rate, per key", () => {
    const clock = new ManualClock(0);
    const limiter = createTokenBucketLimiter({ ratePerSecond: 10, burst: 3, clock });
    expect([1, 2, 3, 4].map(() => limiter.take("a"))).toEqual([true, true, true, false]);
    expect(limiter.take("b")).toBe(true);
    clock.advance(100);
    expect(limiter.take("a")).toBe(true);
    expect(limiter.take("a")).toBe(false);
  });

  test("rate 0 disables limiting", () => {
    const limiter = createTokenBucketLimiter({ ratePerSecond: 0 });
    for (let i = 0; i < 1000; i++) expect(limiter.take("a")).toBe(true);
  });

  test("keeps at most maxKeys buckets", () => {
    const limiter = createTokenBucketLimiter({
      ratePerSecond: 1,
      burst: 1,
      maxKeys: 10,
      clock: new ManualClock(),
    });
    for (let i = 0; i < 100; i++) limiter.take(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(10);
  });

  test("a full table of busy keys refuses new keys and never resets an existing bucket", () => {
    const clock = new ManualClock(0);
    const limiter = createTokenBucketLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 3, clock });
    for (const key of ["a", "b", "c"]) expect(limiter.take(key)).toBe(true);
    expect(limiter.take("a")).toBe(true);
    expect(limiter.take("a")).toBe(false); // a spent its burst
    // A flood of new keys is refused while every tracked bucket is below its burst...
    for (let i = 0; i < 50; i++) expect(limiter.take(`new-${i}`)).toBe(false);
    // ...and a is still out of tokens: nobody's bucket was reset by the flood.
    expect(limiter.take("a")).toBe(false);
    // Once buckets have refilled they are forgotten and new keys get in.
    clock.advance(3_000);
    expect(limiter.take("d")).toBe(true);
  });
});

describe("peerKey", () => {
  test.each([
    ["127.0.0.1:41234", "127.0.0.1"],
    ["ipv4:10.1.2.3:5000", "10.1.2.3"],
    ["[::1]:5000", "::1"],
    ["ipv6:[fe80::1]:80", "fe80::1"],
    ["unix:/tmp/sock", "unix:/tmp/sock"],
  ])("%p → %p", (peer, key) => {
    expect(peerKey(peer)).toBe(key);
  });
});

describe("createBearerAuth", () => {
  const auth = createBearerAuth("s3cret-token-0123456789");
  test.each([
    ["Bearer s3cret-token-0123456789", true],
    ["bearer s3cret-token-0123456789", true],
    ["Bearer s3cret-token-012345678", false],
    ["s3cret-token-0123456789", false],
    ["Basic s3cret-token-0123456789", false],
    [undefined, false],
  ])("%p → %p", (header, ok) => {
    expect(auth.check(header)).toBe(ok);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cooldown } from '../../src/alerts/cooldown';

describe('alert cooldown per (identity, camera)', () => {
  it('alerts once per window for a person who keeps matching, again after the window', () => {
    let now = 1_000_000;
    const c = new Cooldown({ windowMs: 60_000, now: () => now });
    assert.equal(c.tryAcquire('alice', 'door'), true);
    for (let t = 0; t < 59; t++) {
      now += 1000; // the same track keeps matching every second
      assert.equal(c.tryAcquire('alice', 'door'), false, `re-alerted after ${t + 1} s`);
    }
    assert.equal(c.remainingMs('alice', 'door'), 1000);
    now += 1000; // 60 s after the alert
    assert.equal(c.tryAcquire('alice', 'door'), true);
    assert.equal(c.remainingMs('alice', 'door'), 60_000);
  });

  it('keeps identities and cameras apart', () => {
    const now = 0;
    const c = new Cooldown({ windowMs: 60_000, now: () => now });
    assert.equal(c.tryAcquire('alice', 'door'), true);
    assert.equal(c.tryAcquire('alice', 'lobby'), true);
    assert.equal(c.tryAcquire('bob', 'door'), true);
    assert.equal(c.tryAcquire('alice', 'door'), false);
    // A key built by concatenation would confuse ("a:b","c") with ("a","b:c").
    assert.equal(c.tryAcquire('a:b', 'c'), true);
    assert.equal(c.tryAcquire('a', 'b:c'), true);
  });

  it('forgets expired entries so memory stays bounded, and a 0 window disables it', () => {
    let now = 0;
    const c = new Cooldown({ windowMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) c.tryAcquire(`p${i}`, 'door');
    assert.equal(c.size, 100);
    now = 1000;
    c.prune();
    assert.equal(c.size, 0);
    const off = new Cooldown({ windowMs: 0, now: () => 5 });
    assert.equal(off.tryAcquire('p', 'door'), true);
    assert.equal(off.tryAcquire('p', 'door'), true);
    assert.throws(() => new Cooldown({ windowMs: -1 }), RangeError);
  });
});

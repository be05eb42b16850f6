import { describe, expect, it } from 'vitest';
import { WebhookLanes } from '../../shared/notifications/lanes.js';
import { fairReviewOrder } from '../../shared/pipelines/service.js';

describe('webhook lanes', () => {
  it('lets a few deliveries of one organization run at once, not more, and others run beside them', () => {
    const lanes = new WebhookLanes({ concurrency: 2, breakerFailures: 3, breakerOpenMs: 60_000 }, () => 0);
    const first = lanes.enter('org-a', 'https://a.example/hook');
    const second = lanes.enter('org-a', 'https://a.example/hook');
    expect(first.entered && second.entered).toBe(true);
    expect(lanes.enter('org-a', 'https://a.example/hook')).toEqual({ entered: false, retryAfterMs: 1000 });
    expect(lanes.enter('org-b', 'https://b.example/hook').entered).toBe(true);
    if (first.entered) first.release('delivered');
    expect(lanes.enter('org-a', 'https://a.example/hook').entered).toBe(true);
  });

  it('opens the breaker after consecutive failures, lets one trial through after the pause, and closes on success', () => {
    let now = 0;
    const lanes = new WebhookLanes({ concurrency: 5, breakerFailures: 3, breakerOpenMs: 60_000 }, () => now);
    const fail = () => {
      const entry = lanes.enter('org-a', 'https://a.example/hook');
      if (!entry.entered) throw new Error('expected to enter');
      entry.release('failed');
    };
    fail();
    fail();
    fail();
    expect(lanes.enter('org-a', 'https://a.example/hook')).toEqual({ entered: false, retryAfterMs: 60_000 });
    // Another endpoint of the organization (a changed URL) is not paused.
    const other = lanes.enter('org-a', 'https://a.example/new-hook');
    expect(other.entered).toBe(true);
    if (other.entered) other.release('delivered');
    now = 60_000;
    const trial = lanes.enter('org-a', 'https://a.example/hook');
    expect(trial.entered).toBe(true);
    expect(lanes.enter('org-a', 'https://a.example/hook').entered).toBe(false);
    if (trial.entered) trial.release('failed');
    expect(lanes.enter('org-a', 'https://a.example/hook')).toEqual({ entered: false, retryAfterMs: 60_000 });
    now = 120_000;
    const next = lanes.enter('org-a', 'https://a.example/hook');
    if (next.entered) next.release('delivered');
    expect(lanes.enter('org-a', 'https://a.example/hook').entered).toBe(true);
  });
});

describe('fair grant review order', () => {
  it('takes requesters in turn, each one oldest first, and stops at the batch size', () => {
    const entries = [
      ...Array.from({ length: 5 }, (_, index) => ({ requesterId: 'flood', id: `f${index}` })),
      { requesterId: 'real', id: 'r0' },
      { requesterId: 'other', id: 'o0' },
      { requesterId: 'real', id: 'r1' },
    ];
    expect(fairReviewOrder(entries, 4).map((entry) => entry.id)).toEqual(['f0', 'r0', 'o0', 'f1']);
    expect(fairReviewOrder(entries, 20).map((entry) => entry.id)).toEqual(['f0', 'r0', 'o0', 'f1', 'r1', 'f2', 'f3', 'f4']);
  });
});

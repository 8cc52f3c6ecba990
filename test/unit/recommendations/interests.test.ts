import { describe, expect, it } from 'vitest';
import { addInterest, daysToMs, decayedWeight, decayFactor, topInterests } from '../../../src/recommendations/interests.js';

const halfLife = daysToMs(14);
const start = new Date('2026-01-01T00:00:00Z');
const after = (days: number) => new Date(start.getTime() + daysToMs(days));

describe('interest decay', () => {
  it('halves a weight every half-life and leaves a fresh one alone', () => {
    expect(decayedWeight({ weight: 8, updatedAt: start }, start, halfLife)).toBe(8);
    expect(decayedWeight({ weight: 8, updatedAt: start }, after(14), halfLife)).toBeCloseTo(4, 10);
    expect(decayedWeight({ weight: 8, updatedAt: start }, after(28), halfLife)).toBeCloseTo(2, 10);
    expect(decayedWeight({ weight: 8, updatedAt: start }, after(7), halfLife)).toBeCloseTo(8 / Math.SQRT2, 10);
  });

  it('does not grow a weight when the clock is behind the stored time', () => {
    expect(decayFactor(-daysToMs(3), halfLife)).toBe(1);
    expect(decayedWeight({ weight: 5, updatedAt: after(3) }, start, halfLife)).toBe(5);
  });

  it('adds new activity to the decayed weight and moves the timestamp', () => {
    const first = addInterest(undefined, 3, start, halfLife);
    expect(first).toEqual({ weight: 3, updatedAt: start });
    const second = addInterest(first, 3, after(14), halfLife);
    expect(second.weight).toBeCloseTo(4.5, 10);
    expect(second.updatedAt).toEqual(after(14));
  });

  it('takes interest back without going below zero', () => {
    const liked = addInterest(undefined, 3, start, halfLife);
    expect(addInterest(liked, -3, start, halfLife).weight).toBe(0);
    expect(addInterest(liked, -3, after(14), halfLife).weight).toBe(0);
  });
});

describe('top interests', () => {
  it('ranks by decayed weight, so an old strong interest can lose to a recent weaker one', () => {
    const stored = [
      { tag: 'oil', weight: 10, updatedAt: start },
      { tag: 'watercolor', weight: 4, updatedAt: after(42) },
      { tag: 'ink', weight: 1, updatedAt: after(42) },
    ];
    // After 42 days "oil" is worth 10/8 = 1.25.
    expect(topInterests(stored, after(42), halfLife, 2).map((i) => i.tag)).toEqual(['watercolor', 'oil']);
    expect(topInterests(stored, after(42), halfLife, 10).map((i) => i.tag)).toEqual(['watercolor', 'oil', 'ink']);
  });

  it('forgets interests that have decayed to almost nothing', () => {
    const stored = [{ tag: 'oil', weight: 1, updatedAt: start }];
    expect(topInterests(stored, after(14 * 10), halfLife, 5)).toEqual([]);
  });
});

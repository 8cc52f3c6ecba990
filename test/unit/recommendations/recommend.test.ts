import { describe, expect, it } from 'vitest';
import { mixRecommendations, planQuotas } from '../../../src/recommendations/recommend.js';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('planQuotas', () => {
  it('gives about 70% to interest matches and the rest to popular and newest', () => {
    expect(planQuotas(20, true)).toEqual({ interest: 14, popular: 3, newest: 3 });
    expect(planQuotas(10, true)).toEqual({ interest: 6, popular: 2, newest: 2 });
  });

  it('keeps a place for a new image even in short lists', () => {
    expect(planQuotas(2, true)).toEqual({ interest: 1, popular: 0, newest: 1 });
    expect(planQuotas(3, true)).toEqual({ interest: 1, popular: 1, newest: 1 });
    expect(planQuotas(1, true)).toEqual({ interest: 1, popular: 0, newest: 0 });
  });

  it('splits between popular and newest for an anonymous or new user', () => {
    expect(planQuotas(20, false)).toEqual({ interest: 0, popular: 10, newest: 10 });
    expect(planQuotas(5, false)).toEqual({ interest: 0, popular: 3, newest: 2 });
  });
});

describe('mixRecommendations', () => {
  it('puts interest matches first, then alternates popular and newest', () => {
    const result = mixRecommendations({ interest: ids('i', 20), popular: ids('p', 20), newest: ids('n', 20) }, 10, planQuotas(10, true));
    expect(result).toEqual(['i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'p1', 'n1', 'p2', 'n2']);
  });

  it('never repeats an image that is in several lists', () => {
    const result = mixRecommendations({ interest: ['a', 'b'], popular: ['a', 'c', 'b'], newest: ['c', 'd', 'a'] }, 10, planQuotas(10, true));
    expect(result).toEqual(['a', 'b', 'c', 'd']);
  });

  it('fills a shortfall of interest matches from popular and newest', () => {
    const result = mixRecommendations({ interest: ['i1'], popular: ids('p', 10), newest: ids('n', 10) }, 6, planQuotas(6, true));
    expect(result).toHaveLength(6);
    expect(result[0]).toBe('i1');
    expect(result).toContain('n1');
  });

  it('returns what exists when there are fewer images than asked for', () => {
    expect(mixRecommendations({ interest: [], popular: [], newest: ['n1', 'n2'] }, 20, planQuotas(20, false))).toEqual(['n1', 'n2']);
    expect(mixRecommendations({ interest: [], popular: [], newest: [] }, 20, planQuotas(20, false))).toEqual([]);
  });

  it('gives an anonymous user both popular and newest images', () => {
    const result = mixRecommendations({ interest: [], popular: ids('p', 10), newest: ids('n', 10) }, 4, planQuotas(4, false));
    expect(result).toEqual(['p1', 'n1', 'p2', 'n2']);
  });
});

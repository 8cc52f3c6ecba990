import { z } from 'zod';

// The upload and delete transactions across users, images and recommendations
// (docs/transactions.md): which protocol a cluster runs, and the second-phase methods every
// two-phase participant offers.

export const uploadTransactionModes = ['saga', '2pc'] as const;
export type UploadTransactionMode = (typeof uploadTransactionModes)[number];

/** Second phase of two-phase commit; both are idempotent (an unknown `txId` is already finished). */
export const twoPhaseParticipant = {
  CommitPrepared: {
    input: z.object({ txId: z.uuid().max(36) }),
    output: z.object({}),
    idempotent: true,
  },
  AbortPrepared: {
    input: z.object({ txId: z.uuid().max(36) }),
    output: z.object({}),
    idempotent: true,
  },
} as const;

export type TransactionDecision = 'commit' | 'abort' | 'pending';

/** A participant's question to the coordinator (Images.TransactionOutcome) about a prepared transaction left behind. */
export function askCoordinator(images: { TransactionOutcome(input: { txId: string }): Promise<{ decision: TransactionDecision }> }): (txId: string) => Promise<TransactionDecision> {
  return async (txId) => (await images.TransactionOutcome({ txId })).decision;
}

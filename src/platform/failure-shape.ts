import type { TSchema } from 'typebox';
import type { ErrorCode } from './errors.js';

// What a failure shape is, apart from the shapes themselves (render-error.ts holds the public
// ones, rpc/wire.ts the RPC wire's), so those two modules import in one direction only.

/** What a shape may show of an error: never a cause, never a stack. */
export interface RenderableError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown> | undefined;
  retryAfterSeconds?: number | undefined;
}

export interface FailureShape {
  status(code: ErrorCode): number;
  body(error: RenderableError): Record<string, unknown>;
  /** JSON schema of `body`: route response schemas, and so the OpenAPI document, use it. */
  schema: TSchema;
}

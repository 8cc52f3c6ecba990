import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

// Anything that may carry a secret is removed before a line is written.
const redactPaths = [
  'password', '*.password', 'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken',
  'token', '*.token', 'imageBlob', '*.imageBlob',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie',
];

export interface LoggerSettings {
  /** The process's name as it appears in every line, e.g. "users-1". */
  name: string;
  level: LoggerOptions['level'];
  destination?: DestinationStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  return pino(
    {
      name: settings.name,
      level: settings.level ?? 'info',
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    settings.destination,
  );
}

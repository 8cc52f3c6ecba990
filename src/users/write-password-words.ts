// Build step, run by `npm run build` on its compiled copy (and by the benchmarks that run the users
// service from dist-bench/): writes the password-strength word file (password-words.ts) next to the
// compiled service, where it reads it.
import { writePasswordWords } from './password-words.js';

console.log(`password-strength words written to ${writePasswordWords()}`);

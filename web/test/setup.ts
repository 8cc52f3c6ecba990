import { configure } from '@testing-library/react';

// Pages load lazily (their own chunks); on a busy machine the first import of a page in a test
// file can take more than Testing Library's default second to transform.
configure({ asyncUtilTimeout: 5_000 });

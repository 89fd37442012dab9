import { ManualClock, systemClock } from '@syncjournal/core';
import { runClockConformance, runHasherConformance } from '@syncjournal/core/testing';
import { nodeHasher } from '../src/index.js';

runHasherConformance('node:crypto', nodeHasher);
runClockConformance('the system clock', systemClock);
runClockConformance('a manual clock', new ManualClock());

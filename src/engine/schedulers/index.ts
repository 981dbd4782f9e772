// Schedulers by the names the CLI and the app use.
import { DDIMScheduler } from './scheduling_ddim.ts';
import { DPMSolverMultistepScheduler } from './scheduling_dpmsolver_multistep.ts';
import { EulerAncestralDiscreteScheduler } from './scheduling_euler_ancestral_discrete.ts';
import { EulerDiscreteScheduler } from './scheduling_euler_discrete.ts';
import type { Scheduler, SchedulerConfigJson } from './scheduling_utils.ts';

export const SCHEDULERS = ['euler-ancestral', 'euler', 'ddim', 'dpm++2m'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export function isSchedulerName(s: string): s is SchedulerName {
  return (SCHEDULERS as readonly string[]).includes(s);
}

/** The scheduler by name, configured from the model's scheduler_config.json (as diffusers' from_config). */
export function createScheduler(name: SchedulerName, config: SchedulerConfigJson): Scheduler {
  switch (name) {
    case 'euler-ancestral':
      return new EulerAncestralDiscreteScheduler(config);
    case 'euler':
      return new EulerDiscreteScheduler(config);
    case 'ddim':
      return new DDIMScheduler(config);
    case 'dpm++2m':
      return new DPMSolverMultistepScheduler(config);
  }
}

export type { Scheduler, SchedulerConfigJson };

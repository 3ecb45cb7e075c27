/**
 * Bradley-Terry maximum likelihood by damped Newton iterations.
 *
 * Model: P(i beats j) = σ(θ_i − θ_j) with σ the logistic function and θ natural-log strengths
 * (p_i = e^{θ_i}). We maximise
 *
 *   ℓ(θ) = Σ_{i≠j} w_ij · log σ(θ_i − θ_j)  −  (λ/2) · Σ_i θ_i²
 *
 * with `w_ij` the (tie-split) wins of i over j. Why Newton and not MM (Hunter 2004): MM needs
 * hundreds of iterations when strengths are spread out, Newton needs 3–8, and with a few hundred
 * models the M×M Cholesky solve is cheap next to the 1,000 refits of the bootstrap.
 *
 * The prior λ (default 1e-6, per θ in natural-log units) is there only for identifiability:
 * - ℓ without it is unchanged by adding a constant to every θ; with it the optimum has Σθ = 0.
 * - A model with no battles gets θ = 0 (the mean) instead of an undefined value.
 * - An undefeated (or winless) model has no finite MLE; the prior stops it at a large but finite
 *   θ (about ±ln(wins / λ), so thousands of rating points for λ = 1e-6). That is what "better than
 *   everything it met, by an unknown margin" looks like; the bootstrap interval will be wide.
 * - Separate groups of models that never met each other are each centred at 0, so ratings across
 *   groups are not comparable (nothing can make them so).
 * Otherwise its pull is λ·θ against a Fisher information of about n/4 for n battles, i.e. a
 * shift of roughly 0.001 / n rating points: far below anything shown.
 *
 * Ratings use Chatbot Arena's Elo-like scale: rating_i = base + 400 · log10(p_i) =
 * base + (400 / ln 10) · θ_i, so a 75 % win rate is 400 · log10(3) ≈ 190.8 points. They are
 * normalised so that the mean over all models is `base` (1000), which needs no choice of a
 * reference model; an `anchor` instead pins one model's rating (Arena pins a known model so that
 * numbers stay stable as models are added).
 */
import { assertSquare } from './battles';

/** Wins in sparse pair form: for pair p, `wLo[p]` = wins of `lo[p]` over `hi[p]`, `wHi[p]` the reverse. */
export interface TPairWins {
  lo: Int32Array;
  hi: Int32Array;
  wLo: Float64Array;
  wHi: Float64Array;
}

export interface TRatingScale {
  /** Mean rating (or the anchor's rating); default 1000. */
  base?: number;
  /** Points per factor of 10 in odds; default 400. */
  scale?: number;
  /** Pin this model to `rating` instead of centring the mean. */
  anchor?: { model: number; rating: number };
}

export interface TFitOptions extends TRatingScale {
  /** L2 prior strength λ on natural-log strengths; must be > 0. Default 1e-6. */
  prior?: number;
  maxIterations?: number;
  /** Stop when no θ moves by more than this (natural-log units). Default 1e-10. */
  tolerance?: number;
  /** Starting θ (e.g. the full-data fit when refitting a bootstrap sample). */
  initial?: Float64Array;
}

export interface TBradleyTerryFit {
  /** θ_i = ln p_i, centred so that Σθ = 0. */
  logStrengths: Float64Array;
  /** On the Elo-like scale described above. */
  ratings: Float64Array;
  iterations: number;
  converged: boolean;
}

export const defaultPrior = 1e-6;

export function winsToPairs(wins: Float64Array, modelCount: number): TPairWins {
  const M = modelCount;
  let count = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++) if (wins[i * M + j]! + wins[j * M + i]! > 0) count++;
  }
  const pairs: TPairWins = { lo: new Int32Array(count), hi: new Int32Array(count), wLo: new Float64Array(count), wHi: new Float64Array(count) };
  let p = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++) {
      const wij = wins[i * M + j]!;
      const wji = wins[j * M + i]!;
      if (wij + wji === 0) continue;
      pairs.lo[p] = i;
      pairs.hi[p] = j;
      pairs.wLo[p] = wij;
      pairs.wHi[p] = wji;
      p++;
    }
  }
  return pairs;
}

/** log σ(x) without overflow for large |x|. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function objective(pairs: TPairWins, theta: Float64Array, prior: number): number {
  let value = 0;
  for (let p = 0; p < pairs.lo.length; p++) {
    const d = theta[pairs.lo[p]!]! - theta[pairs.hi[p]!]!;
    value += pairs.wLo[p]! * logSigmoid(d) + pairs.wHi[p]! * logSigmoid(-d);
  }
  let norm = 0;
  for (let i = 0; i < theta.length; i++) norm += theta[i]! * theta[i]!;
  return value - (prior / 2) * norm;
}

function centre(v: Float64Array): void {
  let mean = 0;
  for (let i = 0; i < v.length; i++) mean += v[i]!;
  mean /= v.length;
  for (let i = 0; i < v.length; i++) v[i]! -= mean;
}

/** Solves A x = g in place (x returned in g) for symmetric positive definite A, destroying A. */
function choleskySolve(A: Float64Array, g: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= A[j * n + k]! * A[j * n + k]!;
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = s / ljj;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = g[i]!;
    for (let k = 0; k < i; k++) s -= A[i * n + k]! * g[k]!;
    g[i] = s / A[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = g[i]!;
    for (let k = i + 1; k < n; k++) s -= A[k * n + i]! * g[k]!;
    g[i] = s / A[i * n + i]!;
  }
  return true;
}

/** Core fit on sparse pairs; the bootstrap calls this directly to skip building M×M matrices. */
export function fitPairs(pairs: TPairWins, modelCount: number, options: TFitOptions = {}): TBradleyTerryFit {
  const M = modelCount;
  const prior = options.prior ?? defaultPrior;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  if (!(prior > 0)) throw new RangeError(`prior must be > 0 (it makes the fit identifiable), got ${prior}`);

  const theta = new Float64Array(M);
  if (options.initial) {
    if (options.initial.length !== M) throw new RangeError(`initial must have ${M} entries`);
    theta.set(options.initial);
    centre(theta);
  }
  const A = new Float64Array(M * M);
  const step = new Float64Array(M);
  const trial = new Float64Array(M);
  let value = objective(pairs, theta, prior);
  let iterations = 0;
  let converged = false;

  while (iterations < maxIterations && !converged) {
    iterations++;
    // step := gradient, A := −Hessian (graph Laplacian weighted by n·σ(1−σ), plus λI).
    A.fill(0);
    for (let i = 0; i < M; i++) {
      step[i] = -prior * theta[i]!;
      A[i * M + i] = prior;
    }
    for (let p = 0; p < pairs.lo.length; p++) {
      const i = pairs.lo[p]!;
      const j = pairs.hi[p]!;
      const n = pairs.wLo[p]! + pairs.wHi[p]!;
      const s = 1 / (1 + Math.exp(theta[j]! - theta[i]!));
      const r = pairs.wLo[p]! - n * s;
      step[i]! += r;
      step[j]! -= r;
      const h = n * s * (1 - s);
      A[i * M + i]! += h;
      A[j * M + j]! += h;
      A[i * M + j]! -= h;
      A[j * M + i]! -= h;
    }
    // The all-ones direction has curvature only λ, which makes A badly conditioned. Adding c·11ᵀ
    // changes only that component of the solution (1 is an eigenvector of A), and we discard it
    // by centring, since the optimum has Σθ = 0.
    let trace = 0;
    for (let i = 0; i < M; i++) trace += A[i * M + i]!;
    const c = trace / (M * M);
    for (let k = 0; k < A.length; k++) A[k]! += c;
    const gradient = Float64Array.from(step);
    if (!choleskySolve(A, step, M)) break;
    centre(step);

    let slope = 0;
    for (let i = 0; i < M; i++) slope += gradient[i]! * step[i]!;
    if (!(slope > 0)) {
      converged = true;
      break;
    }
    // Backtracking (Armijo) keeps every step an ascent step; full steps are the rule near the optimum.
    let t = 1;
    let accepted = false;
    for (let halvings = 0; halvings < 40; halvings++) {
      for (let i = 0; i < M; i++) trial[i] = theta[i]! + t * step[i]!;
      const trialValue = objective(pairs, trial, prior);
      if (trialValue >= value + 1e-4 * t * slope) {
        theta.set(trial);
        value = trialValue;
        accepted = true;
        break;
      }
      t /= 2;
    }
    let largest = 0;
    for (let i = 0; i < M; i++) largest = Math.max(largest, Math.abs(t * step[i]!));
    // No acceptable step means we are at the optimum to within rounding.
    if (!accepted || largest < tolerance) converged = true;
  }
  centre(theta);
  return { logStrengths: theta, ratings: toRatings(theta, options), iterations, converged };
}

/** θ (natural-log strengths) → Elo-like ratings; see the module comment. */
export function toRatings(theta: Float64Array, scaleOptions: TRatingScale = {}): Float64Array {
  const base = scaleOptions.base ?? 1000;
  const factor = (scaleOptions.scale ?? 400) / Math.LN10;
  let origin = 0;
  if (scaleOptions.anchor) {
    const { model } = scaleOptions.anchor;
    if (!Number.isInteger(model) || model < 0 || model >= theta.length) throw new RangeError(`anchor model ${model} out of range`);
    origin = theta[model]!;
  } else {
    for (let i = 0; i < theta.length; i++) origin += theta[i]!;
    origin /= theta.length;
  }
  const ratingBase = scaleOptions.anchor ? scaleOptions.anchor.rating : base;
  const ratings = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) ratings[i] = ratingBase + factor * (theta[i]! - origin);
  return ratings;
}

/**
 * Bradley-Terry MLE from a wins matrix (`wins[i * M + j]` = wins of i over j, ties split ½/½).
 * Returns log-strengths and ratings; see the module comment for the prior and the scale.
 */
export function fitBradleyTerry(wins: Float64Array, modelCount: number, options: TFitOptions = {}): TBradleyTerryFit {
  assertSquare(wins, modelCount, 'wins');
  for (let k = 0; k < wins.length; k++) {
    const w = wins[k]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`wins must be finite and non-negative (entry ${k} is ${w})`);
    if (w !== 0 && k % (modelCount + 1) === 0) throw new RangeError(`wins diagonal must be 0 (model ${k / (modelCount + 1)} vs itself)`);
  }
  return fitPairs(winsToPairs(wins, modelCount), modelCount, options);
}

"""Reference log-mel features for LogMelTests (NumPy, float64, FFT via numpy.fft.rfft).

Regenerate (from the package root):
    python3 Tests/DataTests/Fixtures/make_fixtures_logmel.py

Front end (the same definition as Sources/Data/LogMel.swift):
  - frames of 400 samples every 160 samples, no centring: T = 1 + (n - 400) // 160
    (n < 400: one zero-padded frame);
  - periodic Hann window w[i] = 0.5 - 0.5 cos(2 pi i / 400), zero-padded to n_fft = 512;
  - power spectrum |rfft|^2 (257 bins, no normalisation);
  - HTK mel filterbank, 80 triangles between 0 and 8000 Hz, peak 1, no area normalisation
    (torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale="htk"));
  - log(mel + 1e-6);
  - normalised variant: per mel bin over time, (x - mean) / (std + 1e-5), population std.
"""
import json
import os

import numpy as np

SR, WIN, HOP, NFFT, NMELS, FMIN, FMAX, FLOOR = 16000, 400, 160, 512, 80, 0.0, 8000.0, 1e-6


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def filterbank():
    freqs = np.linspace(0, SR // 2, NFFT // 2 + 1)
    f_pts = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), NMELS + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))          # [257, 80]


def logmel(x):
    n = len(x)
    if n < WIN:
        x = np.concatenate([x, np.zeros(WIN - n)])
        n = WIN
    t = 1 + (n - WIN) // HOP
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)
    frames = np.stack([x[i * HOP:i * HOP + WIN] * window for i in range(t)])
    spec = np.fft.rfft(frames, n=NFFT, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(power @ filterbank() + FLOOR)


def normalise(f):
    return (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-5)


def signal(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    chirp = 0.3 * np.sin(2 * np.pi * (100 * t + 0.5 * 7000 * t ** 2 / t[-1]))
    tones = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
    x = chirp + tones + 0.05 * rng.standard_normal(n)
    x[n // 2:n // 2 + 800] = 0.0                            # digital silence: the floor
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def case(n, seed):
    s = signal(n, seed)
    x = s.astype(np.float64) / 32768.0
    f = logmel(x)
    return {"samples": s.tolist(), "frames": int(f.shape[0]),
            "logmel": [float(f"{v:.7g}") for v in f.ravel()],
            "normalised": [float(f"{v:.7g}") for v in normalise(f).ravel()]}


out = {"config": {"sampleRate": SR, "window": WIN, "hop": HOP, "nFFT": NFFT, "melBins": NMELS,
                  "fMin": FMIN, "fMax": FMAX, "floor": FLOOR},
       "filterbank": [float(f"{v:.7g}") for v in filterbank().ravel()],
       "cases": [case(4800, 1), case(5000, 2), case(300, 3)]}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logmel.json")
with open(path, "w") as fh:
    json.dump(out, fh, separators=(",", ":"))
print("wrote", path, [c["frames"] for c in out["cases"]])

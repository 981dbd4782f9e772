// The Retouch mark: a wand with a spark, in the accent gradient.
export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" aria-hidden="true">
      <defs>
        <linearGradient id="logo-g" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#8fb4ff" />
          <stop offset="1" stopColor="#c48bff" />
        </linearGradient>
      </defs>
      <rect width="32" height="32" rx="8" fill="#1d1f23" />
      <path
        d="M9 23 L19 13 M17 9 l1.2 2.8 L21 13 l-2.8 1.2 L17 17 l-1.2-2.8 L13 13 l2.8-1.2z"
        stroke="url(#logo-g)"
        strokeWidth="2.4"
        strokeLinecap="round"
        strokeLinejoin="round"
        fill="url(#logo-g)"
      />
    </svg>
  );
}

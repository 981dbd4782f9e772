// How to tune the two scales and what else helps, after the InstructPix2Pix authors' advice (in our words).
export function Tips() {
  return (
    <details className="card tips" open>
      <summary className="card-title">Tips</summary>
      <ul>
        <li>
          <strong>Image barely changes?</strong> Raise <em>Text guidance</em> or lower <em>Image guidance</em>.
        </li>
        <li>
          <strong>Too much changes?</strong> Raise <em>Image guidance</em> or lower <em>Text guidance</em>.
        </li>
        <li>Try a few seeds: the same settings can give quite different results.</li>
        <li>Rephrase: “turn him into a dog”, “make him a dog” and “as a dog” can differ. More steps sometimes help.</li>
        <li>Faces come out badly when they are small in the frame: crop so the face is larger.</li>
        <li>For speed, lower the Size under More settings.</li>
        <li>Weak spots: counting objects, exact positions and directions, new camera angles, keeping a face through a big change.</li>
      </ul>
    </details>
  );
}

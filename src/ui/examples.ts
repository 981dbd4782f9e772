// Photos a person can try at once (public/examples, credits from ../shared/photos/LICENSES.md) and instructions
// known to suit InstructPix2Pix: short imperative edits of style, season, weather, material or one object.

export interface ExamplePhoto {
  file: string;
  title: string;
  credit: string;
  licence: string;
  source?: string;
}

export const EXAMPLE_PHOTOS: readonly ExamplePhoto[] = [
  { file: 'chelsea.png', title: 'Cat', credit: 'Stefan van der Walt', licence: 'CC0' },
  { file: 'coffee.jpg', title: 'Coffee', credit: 'Rachel Michetti, courtesy of Pikolo Espresso Bar', licence: 'CC0' },
  {
    file: 'rocket.jpg',
    title: 'Rocket launch',
    credit: 'SpaceX',
    licence: 'public domain',
    source: 'https://www.flickr.com/photos/spacexphotos/16511594820/',
  },
  {
    file: 'astronaut.jpg',
    title: 'Astronaut',
    credit: 'NASA (Eileen Collins)',
    licence: 'public domain',
    source: 'https://flic.kr/p/r9qvLn',
  },
  { file: 'camera.png', title: 'Photographer', credit: 'Lav Varshney', licence: 'CC0' },
];

export const exampleUrl = (p: ExamplePhoto): string => `${import.meta.env.BASE_URL}examples/${p.file}`;

export const EXAMPLE_INSTRUCTIONS: readonly string[] = [
  'make it a watercolor',
  'make it winter',
  'make it a sunset',
  'turn the cat into a tiger',
  'make it a pencil sketch',
  'add fireworks',
  'make it Van Gogh style',
  'make it made of lego',
];

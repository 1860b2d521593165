use wix_media_upload::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = match args[2].as_str() { "plain" => CreationMode::Plain, "with" => CreationMode::WithUpload, _ => CreationMode::Auto };
    let mut b = Uploader::builder().creation(mode);
    if let Some(c) = args.get(3) { b = b.chunk_size(c.parse().unwrap()); }
    let up = b.build().unwrap();
    let t = std::time::Instant::now();
    let done = up.upload(&args[1], Source::file(&args[4.min(args.len()-1)]).unwrap(), UploadOptions::new()).unwrap();
    eprintln!("{} {:?}", done.size, t.elapsed());
}

//! Function words that carry no topic, per language. Dictionaries translate
//! them into a scatter of unrelated English words, so they are dropped
//! before lookup. Short lists written for polyfeed; languages without a list
//! still work (the concept weights damp general words).

use std::collections::HashSet;
use std::sync::OnceLock;

const EN: &str = "a about after all also am an and any are as at be been before being both but by can could did do does \
doing for from had has have having he her here hers him his how i if in into is it its itself just me more most my no \
nor not now of off on once only or other our out over own same she should so some such than that the their them then \
there these they this those through to too under until up very was we were what when where which while who whom why \
will with would you your yours";
const FI: &str = "ja ei on ole olla oli ovat olivat se ne hän he me te minä sinä että jos kun kuin tai mutta sekä myös \
vain jo nyt niin tämä tämän tätä nämä näiden tuo tuon nuo sen sitä niiden niitä joka jotka jonka joita mikä mitkä \
voi voit voidaan voivat kanssa mukaan kautta ennen jälkeen vielä sitten siis eli kuten koska vaan tässä siinä siitä \
sinne tänne täällä siellä jota joista joihin johon jossa josta mitä minkä myöskään ei eikä en et emme ette eivät ollut \
olleet olet olen olemme olette lisäksi muu muun muut muuta muita muiden kaikki kaikkien kaikista kaikille kaikkia joku jokin jotain joitakin mitään mikään tulee tulisi pitää täytyy voit voi ettei jotta sekä näin noin siihen siltä sillä niin näitä näistä tähän tästä tuolla";
const SV: &str = "och i att det som en på är av för med till den de inte om ett har han hon vi ni jag du man kan ska \
skall vill var från så men eller vid under efter även när nu här där denna detta dessa sig sin sitt sina dig mig oss \
dem deras hans hennes vara varit blir blev bli också bara något några alla hur vad vilken vilket vilka ut upp in än \
då mot utan sedan genom mellan hos inom ditt din dina era er vår vårt våra mitt min mina andra annan annat får måste \
kommer kunna skulle kan";
const FR: &str = "le la les l un une des du de d et ou mais donc ni car à au aux en dans par pour sur sous avec sans \
ce cet cette ces se s sa son ses leur leurs qui que qu quoi dont où ne pas plus il ils elle elles on nous vous je tu \
me te lui y est sont être été était avoir a ont avait fait peut peuvent si comme aussi très tout tous toute toutes \
votre vos notre nos mon ma mes";
const DE: &str = "der die das den dem des ein eine einen einem einer eines und oder aber doch sondern in im ins an am \
auf aus bei mit nach von vom zu zum zur für über unter vor durch um gegen ohne ist sind war waren sein hat haben \
hatte wird werden wurde kann können muss müssen soll sollen will wollen sie er es ich du wir ihr sich man nicht kein \
keine als wie wenn dass ob so auch nur noch schon hier dort dies diese dieser dieses jeder jede jedes ihr ihre ihren \
sein seine seinen mein meine dann";

const DA: &str = "og i at det en den til er som på de med han af for ikke der var mig sig men et har om vi min havde \
ham hun nu over da fra du ud sin dem os op man hans hvor eller hvad skal selv her alle vil blev kunne ind når være dog \
noget ville jo deres efter ned skulle denne end dette mit også under have dig anden hende mine alt meget sit sine vor \
mod disse hvis din nogle hos blive mange ad bliver hendes været";
const NO: &str = "og i jeg det at en et den til er som på de med han av ikke der så var meg seg men ett har om vi min \
mitt ha hadde hun nå over da ved fra du ut sin dem oss opp man kan hans hvor eller hva skal selv her alle vil bli ble \
blitt kunne inn når være noen noe ville dere deres kun etter ned skulle denne for deg sine sitt mot å dette disse uten \
ingen din ditt blir samme hver hvem hvis både bare enn fordi før mange også slik vært";
const IS: &str = "og í að á það er sem til við með um af fyrir en var ekki hann hún þeir þær þau ég þú eru hefur \
hafa verið frá eða þegar því þess sér sig sína hans hennar þetta þessi þessa einnig líka";

/// True when `word` (lower-cased) is a function word of `lang`.
pub fn is_stopword(lang: &str, word: &str) -> bool {
    let i = match lang {
        "en" => 0,
        "fi" => 1,
        "sv" => 2,
        "fr" => 3,
        "de" => 4,
        "da" => 5,
        "no" | "nb" | "nn" => 6,
        "is" => 7,
        _ => return false,
    };
    sets()[i].contains(word)
}

/// The lists (in the order of [`is_stopword`]'s indices) as hash sets, built
/// once: this runs for every word of every entry, and a linear scan of the
/// list was a tenth of a cold poll.
fn sets() -> &'static [HashSet<&'static str>; 8] {
    static SETS: OnceLock<[HashSet<&'static str>; 8]> = OnceLock::new();
    SETS.get_or_init(|| [EN, FI, SV, FR, DE, DA, NO, IS].map(|l| l.split_whitespace().collect()))
}

#[cfg(test)]
mod tests {
    use super::is_stopword;

    #[test]
    fn lists_hold_function_words_only() {
        assert!(is_stopword("fi", "että") && is_stopword("sv", "och") && is_stopword("de", "nicht"));
        assert!(is_stopword("da", "ikke") && is_stopword("nb", "ikke") && is_stopword("is", "ekki"));
        assert!(!is_stopword("en", "library") && !is_stopword("xx", "the"));
    }
}
